-- 002 (baseline): conversations and their messages, with the legacy names 006 renames
-- (cc_messages.provider_msg_id and .text) and the narrower conversation statuses it widens.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
SET lock_timeout = '5s';
SET statement_timeout = '30s';

CREATE TABLE cc_conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    channel text NOT NULL
        CONSTRAINT cc_conversations_channel_check
        CHECK (channel IN ('sms', 'email', 'voice', 'whatsapp', 'chat')),
    status text NOT NULL DEFAULT 'active'
        CONSTRAINT cc_conversations_status_check
        CHECK (status IN ('active', 'closed', 'archived')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- squawk-ignore require-concurrent-index-creation -- the table was created just above
CREATE INDEX cc_conversations_bank_customer_id_idx ON cc_conversations (bank_customer_id);

CREATE TABLE cc_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES cc_conversations (id),
    direction text NOT NULL
        CONSTRAINT cc_messages_direction_check
        CHECK (direction IN ('inbound', 'outbound')),
    provider_msg_id text,
    text text,
    created_at timestamptz NOT NULL DEFAULT now()
);
