-- A pre-006 schema that is 001-005's and more: extra columns (with defaults, or nullable),
-- extra indexes (one unique), an extra table, an extra trigger, and rows everywhere.
CREATE TABLE cc_bank_customers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_ref text NOT NULL UNIQUE,
    kyc_level smallint NOT NULL DEFAULT 1,
    segment text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    channel text NOT NULL CHECK (channel IN ('sms', 'email', 'voice', 'whatsapp', 'chat', 'fax')),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed', 'archived')),
    branch_code text NOT NULL DEFAULT 'HQ',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX legacy_conversations_branch ON cc_conversations (branch_code, created_at);
CREATE TABLE cc_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES cc_conversations (id),
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    provider_msg_id text,
    text text,
    language char(2),
    spam_score real DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX legacy_messages_provider_msg_id ON cc_messages (provider_msg_id);
CREATE INDEX legacy_messages_lower_text ON cc_messages (lower(text));
CREATE TABLE cc_cases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    case_type text NOT NULL,
    status text NOT NULL DEFAULT 'open',
    priority text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent', 'p0')),
    description text,
    resolved_at timestamptz,
    legacy_ticket integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_auth_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    conversation_id uuid REFERENCES cc_conversations (id),
    status text NOT NULL DEFAULT 'pending',
    method text DEFAULT 'sms',
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_audit_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid REFERENCES cc_conversations (id),
    actor text NOT NULL,
    action text NOT NULL,
    payload_redacted jsonb,
    source_system text NOT NULL DEFAULT 'switchboard',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX legacy_audit_actor ON cc_audit_logs (actor);
CREATE TABLE cc_preferences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid NOT NULL UNIQUE REFERENCES cc_bank_customers (id),
    do_not_contact boolean NOT NULL DEFAULT false,
    marketing_opt_in boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_legacy_notes (id serial PRIMARY KEY, body text NOT NULL);
CREATE FUNCTION legacy_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER legacy_conversations_touch BEFORE UPDATE ON cc_conversations
    FOR EACH ROW EXECUTE FUNCTION legacy_touch();

INSERT INTO cc_bank_customers (id, customer_ref, segment) VALUES
    ('00000000-0000-4000-8000-000000000001', 'C-1', 'retail'),
    ('00000000-0000-4000-8000-000000000002', 'C-2', 'private');
INSERT INTO cc_conversations (id, bank_customer_id, channel, status, branch_code) VALUES
    ('10000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001', 'fax', 'archived', 'LDN');
INSERT INTO cc_messages (conversation_id, direction, provider_msg_id, text, language) VALUES
    ('10000000-0000-4000-8000-000000000001', 'internal', 'FX1', 'faxed form', 'en');
INSERT INTO cc_cases (bank_customer_id, case_type, status, priority, legacy_ticket) VALUES
    ('00000000-0000-4000-8000-000000000001', 'account', 'open', 'p0', 4711);
INSERT INTO cc_auth_sessions (bank_customer_id, status, expires_at) VALUES
    ('00000000-0000-4000-8000-000000000001', 'pending', now() + interval '5 minutes');
INSERT INTO cc_audit_logs (actor, action, source_system) VALUES ('batch', 'import', 'mainframe');
INSERT INTO cc_preferences (bank_customer_id, marketing_opt_in) VALUES
    ('00000000-0000-4000-8000-000000000001', true);
INSERT INTO cc_legacy_notes (body) VALUES ('keep me');
