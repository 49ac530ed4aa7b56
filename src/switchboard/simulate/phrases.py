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
