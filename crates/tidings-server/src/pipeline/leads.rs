//! Leads and the rules that score them: each workspace's lead rules (stored, validated,
//! audited), its leads by tag, a tag set by hand (audited; re-analysis keeps it) and the
//! numbers.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use serde_json::json;
use tidings_core::{ConversationId, WorkspaceId};
use tidings_nlp::lead::{CompiledLeadRules, LeadRules, LeadScore};
use tidings_nlp::pipeline::Analysis;

use super::dto::{LeadOut, LeadRulesDto, LeadStatsOut};
use super::service::{Pipeline, PipelineError};
use super::store;
use crate::audit::{self, AuditEntry};
use crate::identity::Auth;
use crate::inbox::live::LiveEvent;

/// Points a rule may add or take away.
const MAX_POINTS: i32 = 100;
/// Phrases a rule may list.
const MAX_PHRASES: usize = 200;
/// Characters a phrase may have.
const MAX_PHRASE_CHARS: usize = 100;

/// A tag as stored, from any case; `Err` names the field.
pub fn parse_tag(field: &str, tag: &str) -> Result<&'static str, PipelineError> {
    match tag.trim().to_ascii_uppercase().as_str() {
        "HOT" => Ok("HOT"),
        "WARM" => Ok("WARM"),
        "COLD" => Ok("COLD"),
        _ => Err(PipelineError::invalid(field, "must be `HOT`, `WARM` or `COLD`")),
    }
}

/// Checks rules a member submitted: every error names its field.
pub fn validate(rules: &LeadRulesDto) -> Result<(), PipelineError> {
    for (name, rule) in rules.phrase_rules() {
        check_points(&format!("{name}.points"), rule.points)?;
        if rule.phrases.is_empty() || rule.phrases.len() > MAX_PHRASES {
            return Err(PipelineError::invalid(
                format!("{name}.phrases"),
                format!("must list 1 to {MAX_PHRASES} phrases"),
            ));
        }
        for (index, phrase) in rule.phrases.iter().enumerate() {
            let length = phrase.trim().chars().count();
            if length == 0 || length > MAX_PHRASE_CHARS {
                return Err(PipelineError::invalid(
                    format!("{name}.phrases[{index}]"),
                    format!("must be 1 to {MAX_PHRASE_CHARS} characters"),
                ));
            }
        }
    }
    for (name, rule) in rules.fact_rules() {
        check_points(&format!("{name}.points"), rule.points)?;
    }
    if !(2..=50).contains(&rules.repeat_messages) {
        return Err(PipelineError::invalid("repeatMessages", "must be 2 to 50"));
    }
    if !(1..=100).contains(&rules.warm_from) {
        return Err(PipelineError::invalid("warmFrom", "must be 1 to 100"));
    }
    if !(1..=100).contains(&rules.hot_from) || rules.hot_from <= rules.warm_from {
        return Err(PipelineError::invalid("hotFrom", "must be 1 to 100 and above warmFrom"));
    }
    Ok(())
}

fn check_points(field: &str, points: i32) -> Result<(), PipelineError> {
    if (-MAX_POINTS..=MAX_POINTS).contains(&points) {
        Ok(())
    } else {
        Err(PipelineError::invalid(field, format!("must be -{MAX_POINTS} to {MAX_POINTS}")))
    }
}

/// Stored rules, or `None` (logged) when they do not parse: stored by this code after
/// validation, so only a hand edit gets there, and the defaults apply.
pub(super) fn parse(workspace: &WorkspaceId, json: &str) -> Option<LeadRules> {
    serde_json::from_str(json)
        .inspect_err(|error| tracing::warn!(%workspace, %error, "stored lead rules do not parse; the defaults apply"))
        .ok()
}

/// Each workspace's rules as last read (their stored JSON) and compiled: compiling takes far
/// longer than scoring a message, and most analysis jobs hold one webhook's message, so the rules
/// are compiled once per saved version in a process, not once per job. A save changes the JSON,
/// which the next job sees.
static COMPILED: LazyLock<Mutex<HashMap<WorkspaceId, (String, CompiledLeadRules)>>> = LazyLock::new(Default::default);

/// The workspace's stored rules `json`, compiled (once per version).
pub(super) fn compiled(workspace: &WorkspaceId, json: &str) -> CompiledLeadRules {
    let mut cache = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((seen, rules)) = cache.get(workspace)
        && seen == json
    {
        return rules.clone();
    }
    let rules = parse(workspace, json).map(CompiledLeadRules::new).unwrap_or_default();
    cache.insert(workspace.clone(), (json.to_owned(), rules.clone()));
    rules
}

/// Each workspace's product names (from its knowledge base) with the knowledge version they were
/// read at. Every analysis job needs them and they change seldom, so a job reads only the
/// version (with the lead rules, one query) and the names only when the version moved. The
/// version lives in the database (`workspaces.knowledge_version`, raised in the transaction of
/// each change to the knowledge base), so a change made by another process is seen too.
static PRODUCTS: LazyLock<Mutex<HashMap<WorkspaceId, ProductNames>>> = LazyLock::new(Default::default);

/// Product names, and the knowledge version they were read at.
type ProductNames = (i64, Vec<String>);

/// The workspace's product names as read at knowledge `version`, if this process has them.
pub(super) fn products(workspace: &WorkspaceId, version: i64) -> Option<Vec<String>> {
    let cache = PRODUCTS.lock().unwrap_or_else(PoisonError::into_inner);
    cache.get(workspace).filter(|(seen, _)| *seen == version).map(|(_, names)| names.clone())
}

/// Keeps the workspace's product names read at knowledge `version` (read after the version, so
/// names newer than it are at worst read once more, never kept as current when stale).
pub(super) fn remember_products(workspace: &WorkspaceId, version: i64, names: &[String]) {
    let mut cache = PRODUCTS.lock().unwrap_or_else(PoisonError::into_inner);
    cache.insert(workspace.clone(), (version, names.to_vec()));
}

/// The lead score of a stored analysis.
fn lead_of(json: &str) -> Option<LeadScore> {
    serde_json::from_str::<Analysis>(json).ok().map(|a| a.lead)
}

impl Pipeline {
    /// Replaces the workspace's lead rules (validated, audited). They apply to items analysed
    /// from now on; `tidings pipeline replay` re-scores stored ones.
    pub async fn set_lead_rules(&self, auth: &Auth, rules: LeadRulesDto) -> Result<i64, PipelineError> {
        validate(&rules)?;
        let workspace = &auth.workspace_id;
        let rules = rules.into_rules();
        let json = serde_json::to_string(&rules).map_err(|e| PipelineError::Internal(e.to_string()))?;
        let mut tx = self.db().begin_for_tenant(workspace).await?;
        let at = store::set_lead_rules(&mut tx, workspace, &json, auth.user_id.as_ref()).await?;
        let metadata = json!({ "hotFrom": rules.hot_from, "warmFrom": rules.warm_from });
        audit::record(&mut tx, workspace, AuditEntry::by(auth, "ai.lead_rules_updated", "lead_rules").with(metadata))
            .await?;
        tx.commit().await?;
        Ok(at)
    }

    /// Goes back to the default lead rules (audited).
    pub async fn reset_lead_rules(&self, auth: &Auth) -> Result<(), PipelineError> {
        let workspace = &auth.workspace_id;
        let mut tx = self.db().begin_for_tenant(workspace).await?;
        if store::reset_lead_rules(&mut tx, workspace).await? {
            audit::record(&mut tx, workspace, AuditEntry::by(auth, "ai.lead_rules_reset", "lead_rules")).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A page of the workspace's leads, with the reasons of each one's latest score.
    pub async fn leads(
        &self,
        workspace: &WorkspaceId,
        tag: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<LeadOut>, i64), PipelineError> {
        let (rows, total) = store::leads(self.db(), workspace, tag, limit, offset).await?;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let latest: HashMap<String, String> = store::latest_lead_analyses(self.db(), workspace, &ids).await?;
        let leads = rows
            .into_iter()
            .map(|row| {
                let score = latest.get(row.id.as_str()).and_then(|json| lead_of(json));
                LeadOut::new(row, score.as_ref())
            })
            .collect();
        Ok((leads, total))
    }

    /// One lead of the workspace.
    pub async fn lead(&self, workspace: &WorkspaceId, id: &ConversationId) -> Result<LeadOut, PipelineError> {
        let row = store::lead(self.db(), workspace, id).await?.ok_or(PipelineError::NotFound("lead"))?;
        let latest = store::latest_lead_analyses(self.db(), workspace, &[id.as_str()]).await?;
        let score = latest.get(id.as_str()).and_then(|json| lead_of(json));
        Ok(LeadOut::new(row, score.as_ref()))
    }

    /// Sets a lead's tag by hand (`Some`), or gives it back to the pipeline (`None`); audited
    /// with the tag before and after. 404 for a review or another workspace's conversation.
    pub async fn set_lead_tag(
        &self,
        auth: &Auth,
        id: &ConversationId,
        tag: Option<&'static str>,
    ) -> Result<LeadOut, PipelineError> {
        let workspace = &auth.workspace_id;
        let before = store::lead(self.db(), workspace, id).await?.ok_or(PipelineError::NotFound("lead"))?;
        let mut tx = self.db().begin_for_tenant(workspace).await?;
        let after = store::set_lead_tag(&mut tx, workspace, id, tag).await?;
        let metadata = json!({
            "from": before.lead_tag, "to": after, "manual": tag.is_some(), "wasManual": before.lead_tag_manual,
        });
        let action = if tag.is_some() { "lead.tag_overridden" } else { "lead.tag_automatic" };
        audit::record(&mut tx, workspace, AuditEntry::by(auth, action, "conversation").on(id).with(metadata)).await?;
        tx.commit().await?;
        self.live().publish(vec![LiveEvent::new(workspace, "conversation.updated", id)]).await;
        self.lead(workspace, id).await
    }

    /// The workspace's leads in numbers.
    pub async fn lead_stats(&self, workspace: &WorkspaceId) -> Result<LeadStatsOut, PipelineError> {
        Ok(LeadStatsOut::from(store::lead_counts(self.db(), workspace).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::dto::{FactRuleDto, PhraseRuleDto};

    #[test]
    fn the_defaults_pass_and_each_bad_value_names_its_field() {
        assert!(validate(&LeadRulesDto::default()).is_ok());
        let field = |rules: LeadRulesDto| match validate(&rules) {
            Err(PipelineError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        let defaults = LeadRulesDto::default;
        let pricing = PhraseRuleDto { points: 500, ..defaults().pricing };
        assert_eq!(field(LeadRulesDto { pricing, ..defaults() }), "pricing.points");
        let demo = PhraseRuleDto { phrases: vec!["trial".into(), "  ".into()], ..defaults().demo };
        assert_eq!(field(LeadRulesDto { demo, ..defaults() }), "demo.phrases[1]");
        assert_eq!(field(LeadRulesDto { hot_from: 30, ..defaults() }), "hotFrom");
        let negative_sentiment = FactRuleDto { points: -101 };
        assert_eq!(field(LeadRulesDto { negative_sentiment, ..defaults() }), "negativeSentiment.points");
    }

    #[test]
    fn rules_are_compiled_again_only_when_their_json_changes() {
        let workspace = WorkspaceId::generate();
        let with = |phrase: &str| {
            let rules = LeadRules {
                pricing: tidings_nlp::lead::PhraseRule { points: 30, phrases: vec![phrase.into()] },
                ..LeadRules::default()
            };
            serde_json::to_string(&rules).expect("rules serialise")
        };
        assert_eq!(compiled(&workspace, &with("tarifs")).rules().pricing.phrases, ["tarifs"]);
        assert_eq!(compiled(&workspace, &with("tarifs")).rules().pricing.phrases, ["tarifs"]);
        assert_eq!(compiled(&workspace, &with("prix")).rules().pricing.phrases, ["prix"]);
        assert_eq!(compiled(&workspace, "{not json").rules(), &LeadRules::default());
    }

    #[test]
    fn tags_are_read_in_any_case() {
        assert_eq!(parse_tag("tag", "hot").ok(), Some("HOT"));
        assert!(parse_tag("tag", "lukewarm").is_err());
    }
}
