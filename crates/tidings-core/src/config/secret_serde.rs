//! How secrets are read from and written to configuration: empty means unset, lists may be
//! comma-separated in the environment, and every secret serializes as `[redacted]`.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SecretString>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value.filter(|v| !v.is_empty()).map(SecretString::from))
}

pub(crate) fn redact_secret<S: Serializer>(value: &Option<SecretString>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(secret) if !secret.expose_secret().is_empty() => serializer.serialize_str("[redacted]"),
        _ => serializer.serialize_none(),
    }
}

/// One value or a list: `["k1", "k2"]` in `tidings.toml`, `[k1,k2]` or `k1,k2` in the environment.
pub(super) fn secret_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<SecretString>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let values = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(joined) => joined.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(values) => values,
    };
    Ok(values.into_iter().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).map(SecretString::from).collect())
}

pub(super) fn redact_secrets<S: Serializer>(values: &[SecretString], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(values.iter().map(|_| "[redacted]"))
}
