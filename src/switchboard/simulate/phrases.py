"""What the simulated customers say: SMS exchanges, email threads and voice calls.

"{card}" stands for a Luhn-valid card number, drawn per message, which the service must mask.
"""

SMS_TOPICS = (
    (
        "Hi, my card was declined at a shop in Lisbon. Is it blocked?",
        "It's the debit card, I'm abroad until Friday",
        "Can you unblock it today please?",
    ),
    (
        "I don't recognise a payment of £49.99 to STREAMFLIX yesterday",
        "No, I never signed up for that. The card is {card}",
        "Please cancel the card and send a new one",
    ),
    (
        "How do I reset my online banking password?",
        "The app says my account is locked after 3 tries",
        "ok thanks",
    ),
    ("When will my replacement card arrive?", "I ordered it 10 days ago and nothing yet"),
    (
        "Can I raise my daily transfer limit?",
        "I need to send £8,000 for a house deposit by tomorrow",
        "Is there a form or can you do it from here?",
    ),
    ("Is the branch on Hill Street open on Saturday?", "Thanks 👍"),
)
EMAIL_THREADS = (
    (
        "Statement for March",
        "Hello, could you send me my statement for March as a PDF? Thanks.",
        "Just following up on this, I need it for my mortgage application.",
        "Received, thank you.",
    ),
    (
        "Disputed transaction",
        "I was charged twice for the same hotel booking (card {card}). Please refund one.",
        "The hotel confirmed only one charge is theirs. Booking reference HX-20931.",
    ),
    (
        "Change of address",
        "I have moved. My new address is 12 Example Road, London, N1 9GU.",
        "Do you need proof of address? I can send a council tax bill.",
    ),
    (
        "Direct debit cancelled by mistake",
        "I cancelled the direct debit to my gym by mistake, can it be restored?",
        "It was the one from 3 June. Thanks for your help.",
    ),
)
CALLS = (
    (
        "Customer reported a lost debit card; the card was frozen and a replacement ordered.",
        (
            "Hello, you're through to the bank's assistant. How can I help?",
            "Hi, I think I've lost my debit card, I had it at lunch.",
            "I'm sorry to hear that. I can freeze the card straight away. Shall I do that?",
            "Yes please, freeze it.",
            "Done. The card is frozen and a replacement will arrive in 3 to 5 working days.",
            "Great, thank you, bye.",
        ),
    ),
    (
        "Customer asked about a pending payment; explained that it clears within 2 days.",
        (
            "Hello, you're through to the bank's assistant. How can I help?",
            "There's a payment pending on my account since Monday, why hasn't it gone through?",
            "Pending card payments usually clear within two working days. Which payment is it?",
            "The one to the electricity company, 82 pounds.",
            "That one should clear tomorrow. Nothing is needed from you.",
        ),
    ),
    (
        "Caller wanted a mortgage adviser; call transferred to the mortgages team.",
        (
            "Hello, you're through to the bank's assistant. How can I help?",
            "I'd like to speak to someone about remortgaging.",
            "Of course. I'll put you through to a mortgage adviser now.",
            "Thank you.",
        ),
    ),
)
UNKNOWN_NAMES = ("Sam Carter", "Priya Shah", "Tom O'Neill", "Zoë Ñúñez", "Kwame Mensah")

# The scenarios that end with a person: each is written so that it lands in its team's queue.
LOST_CARD_TEXTS = (
    (
        "Hi, I've lost my debit card, I think I left it in a taxi last night",
        "Can you block it and send me a new one? I'm at home all week",
    ),
    (
        "My card was stolen from my bag this morning",
        "I haven't checked the app yet, please stop it before anyone uses it",
        "Thanks. Will the new card have the same PIN?",
    ),
    ("Lost card! Last used it at the station. Please help", "Is it blocked now?"),
)
DISPUTE_EMAILS = (
    (
        "Dispute: charged twice at Hotel Lisboa",
        "Hello, I was charged twice for the same stay at Hotel Lisboa on card {card}. "
        "I want to dispute the second charge of £212.40.",
        "The hotel says they only took one payment. Booking reference HX-20931. "
        "Please refund the duplicate.",
    ),
    (
        "Disputed transaction on my statement",
        "There is a payment of £89.00 to ONLINE-GADGETS on my statement that I don't "
        "recognise. I have never bought anything from them.",
        "I still have the card, {card}. What do I need to send you?",
    ),
)
# Each call's code goes by text, but the second caller asks for it by email.
FRAUD_CALLS = (
    (
        "Caller reported card payments they did not make; verified by one-time code and "
        "transferred to the fraud team.",
        (
            "Hello, you're through to the bank's assistant. How can I help?",
            "Hi, there are three payments on my card I didn't make, I think it's fraud.",
            "I'm sorry. To look at your account I'll send a code to your phone. One moment.",
            "OK, I've got a text.",
            "Please read me the code.",
            "It's {code}.",
            "Thank you, you're verified. I'm transferring you to our fraud team now.",
        ),
    ),
    (
        "Caller received a scam call pretending to be the bank; verified by a code sent by "
        "email and transferred to the fraud team.",
        (
            "Hello, you're through to the bank's assistant. How can I help?",
            "Someone rang saying they were the bank and I gave them a code. Was that a scam? "
            "I'm abroad and texts don't reach me, can you email me instead?",
            "It may have been fraud. First I need to verify you: I'm emailing you a code.",
            "Right, it's in my inbox.",
            "Please read me the code.",
            "It's {code}.",
            "Thank you. I'm putting you through to a fraud specialist straight away.",
        ),
    ),
)
