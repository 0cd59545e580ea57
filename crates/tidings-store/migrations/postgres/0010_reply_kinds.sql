-- What a reply in a message thread sends, so the sender (and every retry) sends the same kind:
-- free text, free text tagged HUMAN_AGENT (Messenger, Instagram: after the 24-hour window,
-- within 7 days), or an approved WhatsApp template with its body parameters (a JSON array of
-- strings). Meta refuses free text outside the 24-hour window.
ALTER TABLE responses ADD COLUMN kind TEXT NOT NULL DEFAULT 'text'
    CHECK (kind IN ('text', 'human_agent', 'template'));
ALTER TABLE responses ADD COLUMN template_name TEXT;
ALTER TABLE responses ADD COLUMN template_language TEXT;
ALTER TABLE responses ADD COLUMN template_parameters TEXT;
