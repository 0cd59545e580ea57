//! Checks of what a user types about locations and connections: names, time zones, sync
//! intervals and the credentials each platform needs. Each refusal names the field at fault.

use secrecy::{ExposeSecret, SecretString};
use tidings_connectors::{Credentials, Platform};

use super::model::{CredentialsInput, LocationInput};
use super::service::{
    ChannelsError, MAX_CREDENTIAL_CHARS, MAX_NAME_CHARS, MAX_SYNC_INTERVAL_SECS, MIN_SYNC_INTERVAL_SECS, invalid,
};
use super::store::LocationFields;

/// The credential fields `platform` needs when connected by hand, as the API names them.
pub fn required_credentials(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Dataforseo => &["login", "secret"],
        _ => &["accessToken"],
    }
}

/// Checks the credentials `platform` needs are there, and converts them.
pub(super) fn credentials_for(platform: Platform, input: CredentialsInput) -> Result<Credentials, ChannelsError> {
    let field = |name: &'static str, value: Option<String>| -> Result<Option<String>, ChannelsError> {
        let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if value.as_ref().is_some_and(|v| v.chars().count() > MAX_CREDENTIAL_CHARS) {
            return Err(invalid(name, format!("at most {MAX_CREDENTIAL_CHARS} characters")));
        }
        Ok(value)
    };
    let credentials = Credentials {
        access_token: field("credentials.accessToken", input.access_token)?.map(SecretString::from),
        refresh_token: field("credentials.refreshToken", input.refresh_token)?.map(SecretString::from),
        expires_at_ms: None,
        secret: field("credentials.secret", input.secret)?.map(SecretString::from),
        login: field("credentials.login", input.login)?,
    };
    for required in required_credentials(platform) {
        let present = match *required {
            "login" => credentials.login.is_some(),
            "secret" => credentials.secret.as_ref().is_some_and(|s| !s.expose_secret().is_empty()),
            _ => credentials.access_token.is_some(),
        };
        if !present {
            let (field, what) = match *required {
                "login" => ("credentials.login", "the API login"),
                "secret" => ("credentials.secret", "the API password"),
                _ if platform.uses_oauth() => {
                    ("credentials.accessToken", "an access token (or connect with the OAuth flow instead)")
                }
                _ if matches!(platform, Platform::Yelp | Platform::Tripadvisor) => {
                    ("credentials.accessToken", "the API key")
                }
                _ => ("credentials.accessToken", "an access token"),
            };
            return Err(invalid(field, format!("{} needs {what}", platform.label())));
        }
    }
    Ok(credentials)
}

pub(super) fn required_text(field: &'static str, value: &str) -> Result<String, ChannelsError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "required"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(field, format!("at most {MAX_NAME_CHARS} characters")));
    }
    Ok(value.to_owned())
}

pub(super) fn sync_interval(value: Option<i64>) -> Result<Option<i64>, ChannelsError> {
    match value {
        Some(secs) if !(MIN_SYNC_INTERVAL_SECS..=MAX_SYNC_INTERVAL_SECS).contains(&secs) => Err(invalid(
            "syncIntervalSecs",
            format!("between {MIN_SYNC_INTERVAL_SECS} and {MAX_SYNC_INTERVAL_SECS} seconds"),
        )),
        other => Ok(other),
    }
}

/// An optional text field: trimmed, empty is absent, at most `max` characters.
fn optional_text(field: &'static str, value: Option<String>, max: usize) -> Result<Option<String>, ChannelsError> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(value)
}

/// Validates a location's fields, naming the first one at fault.
pub(super) fn location_fields(input: LocationInput) -> Result<LocationFields, ChannelsError> {
    let name = required_text("name", &input.name)?;
    let website = optional_text("website", input.website, 2_000)?;
    if let Some(site) = &website {
        let valid = reqwest::Url::parse(site).ok().is_some_and(|url| {
            matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
        });
        if !valid {
            return Err(invalid("website", "an http:// or https:// URL"));
        }
    }
    let timezone = optional_text("timezone", input.timezone, 64)?.unwrap_or_else(|| "UTC".to_owned());
    if !is_time_zone_name(&timezone) {
        return Err(invalid("timezone", "an IANA time zone name such as Europe/Lisbon or UTC"));
    }
    Ok(LocationFields {
        name,
        address: optional_text("address", input.address, 500)?,
        city: optional_text("city", input.city, 200)?,
        country: optional_text("country", input.country, 100)?,
        phone: optional_text("phone", input.phone, 50)?,
        website,
        timezone,
    })
}

/// Whether `name` looks like an IANA time zone: `UTC`/`GMT`, or `Area/Location[/More]` under one
/// of the database's areas, each part letters, digits, `_`, `-` or `+`.
fn is_time_zone_name(name: &str) -> bool {
    const AREAS: &[&str] = &[
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
        "Etc",
    ];
    if matches!(name, "UTC" | "GMT") {
        return true;
    }
    let mut parts = name.split('/');
    let area_ok = parts.next().is_some_and(|area| AREAS.contains(&area));
    let rest: Vec<&str> = parts.collect();
    area_ok
        && !rest.is_empty()
        && rest.iter().all(|part| {
            !part.is_empty()
                && part.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zone_names_look_like_the_iana_database() {
        for ok in ["UTC", "Europe/Lisbon", "America/Argentina/Buenos_Aires", "Etc/GMT+3", "America/Port-au-Prince"] {
            assert!(is_time_zone_name(ok), "{ok}");
        }
        for bad in ["", "utc", "Europe", "Mars/Olympus", "Europe/", "Europe/../etc", "Europe/Lis bon", "+02:00"] {
            assert!(!is_time_zone_name(bad), "{bad}");
        }
    }

    #[test]
    fn each_platform_asks_for_its_own_credentials() {
        let token = || CredentialsInput { access_token: Some("t".into()), ..CredentialsInput::default() };
        assert!(credentials_for(Platform::Yelp, token()).is_ok());
        assert!(matches!(
            credentials_for(Platform::Yelp, CredentialsInput::default()),
            Err(ChannelsError::Validation { field: "credentials.accessToken", .. })
        ));
        assert!(matches!(
            credentials_for(Platform::Dataforseo, token()),
            Err(ChannelsError::Validation { field: "credentials.login", .. })
        ));
        let dataforseo = CredentialsInput {
            login: Some("me@example.com".into()),
            secret: Some("pw".into()),
            ..CredentialsInput::default()
        };
        assert!(credentials_for(Platform::Dataforseo, dataforseo).is_ok());
        let blank = CredentialsInput { access_token: Some("   ".into()), ..CredentialsInput::default() };
        assert!(credentials_for(Platform::Whatsapp, blank).is_err(), "blank is absent");
    }

    #[test]
    fn sync_intervals_have_a_floor() {
        assert!(sync_interval(Some(299)).is_err());
        assert_eq!(sync_interval(Some(300)).ok(), Some(Some(300)));
        assert_eq!(sync_interval(None).ok(), Some(None));
    }
}
