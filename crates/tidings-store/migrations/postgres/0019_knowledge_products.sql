-- Products in the knowledge base (issue 14): an entry of kind `product` names something the
-- business sells (title) and describes it (body). The analysis recognises the names in messages.
ALTER TABLE ai_knowledge DROP CONSTRAINT ai_knowledge_kind_check;
ALTER TABLE ai_knowledge ADD CONSTRAINT ai_knowledge_kind_check CHECK (kind IN ('faq', 'document', 'product'));
