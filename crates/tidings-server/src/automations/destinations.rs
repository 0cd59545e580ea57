//! Destinations: what each kind needs (validated, naming the field at fault), the SSRF guard on
//! every URL a workspace types in (ADR 0017), secrets in the vault (never shown back), signing
//! secret rotation for webhooks, and the [`Notifier`] a delivery sends through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use strum::VariantArray;
use tidings_connectors::ConnectorError;
use tidings_connectors::notify::google_chat::GoogleChat;
use tidings_connectors::notify::sendgrid::{EmailAddress, SendGrid};
use tidings_connectors::notify::slack::Slack;
use tidings_connectors::notify::twilio::{Twilio, TwilioChannel};
use tidings_connectors::notify::webhook::SignedWebhook;
use tidings_connectors::notify::{Delivered, Message, Notifier};
use tidings_connectors::standard_webhooks::WebhookSecret;
use tidings_core::time::now_millis;
use tidings_core::{DestinationId, WorkspaceId};

use super::dto::{DestinationIn, DestinationPatch};
use super::model::DestinationKind;
use super::store::{self, DestinationFields, DestinationRow};
use super::{Automations, AutomationsError};
use crate::mail::{MailError, Mailer, OutgoingEmail};

/// How long a rotated-out signing secret keeps signing beside the new one.
const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;
const MAX_RECIPIENTS: usize = 20;

/// What a destination shows: recipients, sender, options. Never a secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// Email: `smtp` (the server's mailer) or `sendgrid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sid: Option<String>,
    /// Google Chat: messages about one deal go in one thread.
    #[serde(default)]
    pub thread_by_deal: bool,
    /// Email to the team: each member who wants the kind by email (ADR 0024).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub team: bool,
}

/// A destination's secrets, sealed in the vault as one JSON value.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Secrets {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    auth_token: Option<String>,
    /// Webhook signing secrets (`whsec_…`), the current one first.
    #[serde(default)]
    signing_secrets: Vec<String>,
    /// Until when the previous signing secret still signs.
    #[serde(default)]
    previous_expires_at: Option<i64>,
}

/// Destinations' decrypted secrets, kept in memory so a delivery does not read and decrypt the
/// vault each time (a pool read and an AES-GCM open per message). An entry is valid for the
/// destination row's `updated_at` it was read at: every change of the secrets advances it (a URL
/// change with the row, a rotation by touching the row), so a change made by another process is
/// seen at the next delivery; this process's own changes also drop the entry at once.
#[derive(Clone, Default)]
pub(crate) struct SecretsCache(Arc<Mutex<CachedSecrets>>);

/// Each destination's secrets with the row's `updated_at` they were read at.
type CachedSecrets = HashMap<DestinationId, (i64, Arc<Secrets>)>;

impl SecretsCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, CachedSecrets> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: &DestinationId, version: i64) -> Option<Arc<Secrets>> {
        self.entries().get(id).filter(|(at, _)| *at == version).map(|(_, secrets)| secrets.clone())
    }

    fn put(&self, id: &DestinationId, version: i64, secrets: Arc<Secrets>) {
        self.entries().insert(id.clone(), (version, secrets));
    }

    fn forget(&self, id: &DestinationId) {
        self.entries().remove(id);
    }
}

fn secret_name(id: &DestinationId) -> String {
    format!("automations/destination/{id}")
}

fn required(value: Option<&str>, field: &str, what: &str) -> Result<String, AutomationsError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| AutomationsError::invalid(field, format!("{what} is required")))
}

fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && !address.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
}

fn valid_phone(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or("");
    (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}

/// Shows where a URL points without its secret parts: host and path, no query.
fn hint(url: &reqwest::Url) -> String {
    let path = url.path();
    let path = if path.chars().count() > 40 {
        format!("{}…", path.chars().take(40).collect::<String>())
    } else {
        path.into()
    };
    format!("{}{}", url.host_str().unwrap_or_default(), path)
}

impl Automations {
    /// Checks a URL against the SSRF guard, naming `field` in the refusal.
    async fn checked_url(&self, field: &str, url: Option<&str>) -> Result<reqwest::Url, AutomationsError> {
        let url = required(url, field, "a URL")?;
        self.guard.check(&url).await.map_err(|source| AutomationsError::Refused { field: field.into(), source })
    }

    /// Validates a new destination: its config, its secrets and what the list shows of its target.
    async fn validate(
        &self,
        input: &DestinationIn,
    ) -> Result<(DestinationKind, DestinationConfig, Secrets, Option<String>), AutomationsError> {
        let kinds = DestinationKind::VARIANTS.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
        let kind = input.kind.ok_or_else(|| AutomationsError::invalid("kind", format!("one of {kinds}")))?;
        let mut config = DestinationConfig::default();
        let mut secrets = Secrets::default();
        let hint_text = match kind {
            DestinationKind::GoogleChat | DestinationKind::Slack | DestinationKind::Webhook => {
                let url = self.checked_url("url", input.url.as_deref()).await?;
                secrets.url = Some(url.to_string());
                config.thread_by_deal = kind == DestinationKind::GoogleChat && input.thread_by_deal.unwrap_or(true);
                if kind == DestinationKind::Webhook {
                    secrets.signing_secrets = vec![WebhookSecret::generate().to_whsec().expose_secret().to_owned()];
                }
                Some(hint(&url))
            }
            DestinationKind::Email if input.team == Some(true) => {
                if input.to.as_ref().is_some_and(|to| !to.is_empty()) {
                    return Err(AutomationsError::invalid(
                        "to",
                        "the team's addresses are the members' own: leave it out",
                    ));
                }
                config.team = true;
                config.provider = Some("smtp".into());
                Some("the team (each member's choice)".to_owned())
            }
            DestinationKind::Email => {
                let to = input.to.clone().unwrap_or_default();
                if to.is_empty() || to.len() > MAX_RECIPIENTS {
                    return Err(AutomationsError::invalid("to", format!("1 to {MAX_RECIPIENTS} email addresses")));
                }
                if let Some(bad) = to.iter().find(|a| !valid_email(a.trim())) {
                    return Err(AutomationsError::invalid("to", format!("`{bad}` is not an email address")));
                }
                config.to = to.iter().map(|a| a.trim().to_owned()).collect();
                match input.provider.as_deref().unwrap_or("smtp") {
                    "smtp" => config.provider = Some("smtp".into()),
                    "sendgrid" => {
                        config.provider = Some("sendgrid".into());
                        secrets.api_key = Some(required(input.api_key.as_deref(), "apiKey", "a SendGrid API key")?);
                        let from = required(input.from.as_deref(), "from", "a verified SendGrid sender")?;
                        if !valid_email(&from) {
                            return Err(AutomationsError::invalid("from", "must be an email address"));
                        }
                        config.from = Some(from);
                    }
                    _ => return Err(AutomationsError::invalid("provider", "must be `smtp` or `sendgrid`")),
                }
                Some(config.to.join(", "))
            }
            DestinationKind::Sms | DestinationKind::Whatsapp => {
                let sid = required(input.account_sid.as_deref(), "accountSid", "the Twilio account SID")?;
                if !(sid.starts_with("AC") || sid.starts_with("SK")) || sid.len() != 34 {
                    return Err(AutomationsError::invalid("accountSid", "a Twilio SID is AC or SK and 32 hex digits"));
                }
                secrets.auth_token = Some(required(input.auth_token.as_deref(), "authToken", "the Twilio auth token")?);
                let from = required(input.from.as_deref(), "from", "the sending number")?;
                let to = input.to.clone().unwrap_or_default();
                let [to] = to.as_slice() else {
                    return Err(AutomationsError::invalid("to", "exactly one phone number"));
                };
                for (field, number) in
                    [("from", from.trim_start_matches("whatsapp:")), ("to", to.trim_start_matches("whatsapp:"))]
                {
                    if !valid_phone(number) {
                        return Err(AutomationsError::invalid(field, "must be an E.164 number such as +14155550123"));
                    }
                }
                config.account_sid = Some(sid);
                config.from = Some(from);
                config.to = vec![to.clone()];
                config.content_sid = input.content_sid.clone().filter(|s| !s.trim().is_empty());
                Some(to.clone())
            }
            DestinationKind::InApp => None,
        };
        Ok((kind, config, secrets, hint_text))
    }

    /// Adds a destination. For a signed webhook, also returns its signing secret (shown once).
    pub async fn create_destination(
        &self,
        workspace: &WorkspaceId,
        input: &DestinationIn,
    ) -> Result<(DestinationRow, Option<String>), AutomationsError> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AutomationsError::invalid("name", "1 to 100 characters, e.g. #sales-wins"));
        }
        let (kind, config, secrets, target_hint) = self.validate(input).await?;
        let id = DestinationId::generate();
        let sealed = serde_json::to_vec(&secrets).map_err(|e| AutomationsError::invalid("secrets", e.to_string()))?;
        self.vault.put(workspace, &secret_name(&id), &sealed).await?;
        let config_json = serde_json::to_string(&config).unwrap_or_else(|_| "{}".into());
        let fields = DestinationFields {
            name,
            config: &config_json,
            target_hint: target_hint.as_deref(),
            enabled: input.enabled.unwrap_or(true),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::insert_destination(&mut tx, workspace, &id, kind.as_str(), &fields).await?;
        tx.commit().await?;
        let row = self.destination(workspace, &id).await?;
        Ok((row, secrets.signing_secrets.first().cloned()))
    }

    /// One destination.
    pub async fn destination(
        &self,
        workspace: &WorkspaceId,
        id: &DestinationId,
    ) -> Result<DestinationRow, AutomationsError> {
        store::destination(&self.db, workspace, id).await?.ok_or(AutomationsError::NotFound("destination"))
    }

    /// Renames, enables or disables a destination, or replaces its URL (checked again).
    pub async fn update_destination(
        &self,
        workspace: &WorkspaceId,
        id: &DestinationId,
        patch: &DestinationPatch,
    ) -> Result<DestinationRow, AutomationsError> {
        let row = self.destination(workspace, id).await?;
        let name = patch.name.as_deref().map(str::trim).unwrap_or(&row.name).to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AutomationsError::invalid("name", "1 to 100 characters"));
        }
        let mut target_hint = row.target_hint.clone();
        if let Some(url) = &patch.url {
            let kind = row.kind;
            if !matches!(kind, DestinationKind::GoogleChat | DestinationKind::Slack | DestinationKind::Webhook) {
                return Err(AutomationsError::invalid("url", format!("a {} destination has no URL", kind.label())));
            }
            let url = self.checked_url("url", Some(url)).await?;
            let mut secrets = self.secrets(workspace, id).await?;
            secrets.url = Some(url.to_string());
            self.seal(workspace, id, &secrets).await?;
            target_hint = Some(hint(&url));
        }
        let fields = DestinationFields {
            name: &name,
            config: &row.config,
            target_hint: target_hint.as_deref(),
            enabled: patch.enabled.unwrap_or(row.enabled),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::update_destination(&mut tx, workspace, id, &fields).await?;
        tx.commit().await?;
        if patch.enabled == Some(true) {
            self.breakers.record_success(id.as_str());
        }
        self.destination(workspace, id).await
    }

    /// Removes a destination, its secrets and its deliveries.
    pub async fn delete_destination(
        &self,
        workspace: &WorkspaceId,
        id: &DestinationId,
    ) -> Result<(), AutomationsError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::delete_destination(&mut tx, workspace, id).await? {
            return Err(AutomationsError::NotFound("destination"));
        }
        tx.commit().await?;
        self.vault.delete(workspace, &secret_name(id)).await?;
        self.secrets_cache.forget(id);
        Ok(())
    }

    /// A new signing secret for a webhook destination; the previous one keeps signing beside it
    /// for 24 hours so receivers can switch without losing a message. Returns the new secret.
    pub async fn rotate_secret(&self, workspace: &WorkspaceId, id: &DestinationId) -> Result<String, AutomationsError> {
        let row = self.destination(workspace, id).await?;
        if row.kind != DestinationKind::Webhook {
            return Err(AutomationsError::Conflict("only signed webhook destinations have a signing secret".into()));
        }
        let mut secrets = self.secrets(workspace, id).await?;
        let fresh = WebhookSecret::generate().to_whsec().expose_secret().to_owned();
        let previous = secrets.signing_secrets.first().cloned();
        secrets.signing_secrets = std::iter::once(fresh.clone()).chain(previous).collect();
        secrets.previous_expires_at = Some(now_millis() + ROTATION_OVERLAP_MS);
        self.seal(workspace, id, &secrets).await?;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::touch_destination(&mut tx, workspace, id).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    async fn secrets(&self, workspace: &WorkspaceId, id: &DestinationId) -> Result<Secrets, AutomationsError> {
        let Some(bytes) = self.vault.get(workspace, &secret_name(id)).await? else { return Ok(Secrets::default()) };
        serde_json::from_slice(bytes.expose_secret())
            .map_err(|e| AutomationsError::invalid("secrets", format!("unreadable destination secrets: {e}")))
    }

    async fn seal(
        &self,
        workspace: &WorkspaceId,
        id: &DestinationId,
        secrets: &Secrets,
    ) -> Result<(), AutomationsError> {
        let sealed = serde_json::to_vec(secrets).map_err(|e| AutomationsError::invalid("secrets", e.to_string()))?;
        self.vault.put(workspace, &secret_name(id), &sealed).await?;
        self.secrets_cache.forget(id);
        Ok(())
    }

    /// The secrets a delivery to `row` sends with: from the cache while `row` is unchanged.
    async fn current_secrets(
        &self,
        workspace: &WorkspaceId,
        row: &DestinationRow,
    ) -> Result<Arc<Secrets>, AutomationsError> {
        if let Some(secrets) = self.secrets_cache.get(&row.id, row.updated_at) {
            return Ok(secrets);
        }
        let secrets = Arc::new(self.secrets(workspace, &row.id).await?);
        self.secrets_cache.put(&row.id, row.updated_at, secrets.clone());
        Ok(secrets)
    }

    /// The notifier a delivery to `row` sends through. `message_id` is the delivery's id (a
    /// signed webhook's `webhook-id`); `thread` the Google Chat thread key, if any.
    pub(crate) async fn notifier(
        &self,
        workspace: &WorkspaceId,
        row: &DestinationRow,
        message_id: &str,
        thread: Option<String>,
    ) -> Result<Box<dyn Notifier>, AutomationsError> {
        let kind = row.kind;
        let config: DestinationConfig = serde_json::from_str(&row.config).unwrap_or_default();
        let secrets = self.current_secrets(workspace, row).await?;
        let missing = |what: &str| AutomationsError::invalid("secrets", format!("the destination has no {what}"));
        let url = || -> Result<String, AutomationsError> { secrets.url.clone().ok_or_else(|| missing("URL")) };
        // A URL whose host is an IP literal never reaches the guarded resolver: check it here,
        // on every send, as the guard's contract asks (ADR 0017).
        if let Some(url) = &secrets.url {
            self.guard.check(url).await.map_err(|source| AutomationsError::Refused { field: "url".into(), source })?;
        }
        let notifier: Box<dyn Notifier> = match kind {
            DestinationKind::GoogleChat => {
                let chat = GoogleChat::new(self.guarded_http.clone(), SecretString::from(url()?));
                match thread.filter(|_| config.thread_by_deal) {
                    Some(key) => Box::new(chat.in_thread(key)),
                    None => Box::new(chat),
                }
            }
            DestinationKind::Slack => Box::new(Slack::new(self.guarded_http.clone(), SecretString::from(url()?))),
            DestinationKind::Webhook => {
                let expired = secrets.previous_expires_at.is_some_and(|at| at < now_millis());
                let keep = if expired { 1 } else { 2 };
                let signing = secrets
                    .signing_secrets
                    .iter()
                    .take(keep)
                    .filter_map(|s| WebhookSecret::parse(s).ok())
                    .collect::<Vec<_>>();
                Box::new(SignedWebhook::new(self.guarded_http.clone(), url()?, signing).message_id(message_id))
            }
            DestinationKind::Email if config.provider.as_deref() == Some("sendgrid") => {
                let api_key = secrets.api_key.clone().ok_or_else(|| missing("SendGrid API key"))?;
                let address = |email: &String| EmailAddress { email: email.clone(), name: None };
                let from = config.from.as_ref().map(address).ok_or_else(|| missing("sender"))?;
                Box::new(SendGrid::new(
                    self.api_http.clone(),
                    &self.config.sendgrid_base_url,
                    SecretString::from(api_key),
                    from,
                    config.to.iter().map(address).collect(),
                ))
            }
            DestinationKind::Email => Box::new(MailNotifier { mailer: self.mailer.clone(), to: config.to.clone() }),
            DestinationKind::Sms | DestinationKind::Whatsapp => {
                let channel = if kind == DestinationKind::Sms { TwilioChannel::Sms } else { TwilioChannel::Whatsapp };
                let token = secrets.auth_token.clone().ok_or_else(|| missing("Twilio auth token"))?;
                let twilio = Twilio::new(
                    self.api_http.clone(),
                    &self.config.twilio_base_url,
                    config.account_sid.clone().unwrap_or_default(),
                    SecretString::from(token),
                    channel,
                    config.from.as_deref().unwrap_or_default(),
                    config.to.first().map(String::as_str).unwrap_or_default(),
                );
                match &config.content_sid {
                    Some(sid) => Box::new(twilio.with_template(sid.clone())),
                    None => Box::new(twilio),
                }
            }
            DestinationKind::InApp => {
                return Err(AutomationsError::Conflict("in-app notifications are not sent".into()));
            }
        };
        Ok(notifier)
    }
}

/// Email through the server's own mailer (SMTP, or the development folder): one message per
/// recipient, as the identity emails are sent.
struct MailNotifier {
    mailer: std::sync::Arc<dyn Mailer>,
    to: Vec<String>,
}

#[async_trait]
impl Notifier for MailNotifier {
    fn kind(&self) -> &'static str {
        "email"
    }

    async fn send(&self, message: &Message) -> Result<Delivered, ConnectorError> {
        for to in &self.to {
            let email = OutgoingEmail::new(to.clone(), message.subject(), message.plain_text(), None);
            self.mailer.send(&email).await.map_err(|error| match error {
                MailError::Unavailable(message) => ConnectorError::Unavailable { platform: "email", message },
                other => ConnectorError::Rejected { platform: "email", status: 550, message: other.to_string() },
            })?;
        }
        Ok(Delivered { status: 250, remote_id: None })
    }
}
