//! What connecting each platform takes, in steps a person follows on the settings page: what
//! is needed (an app, a key, a token), where to get it, and what to register with the platform
//! (the webhook address, Meta's verify token, the OAuth redirect address).

use tidings_connectors::Platform;

/// How to connect one platform.
pub struct Guide {
    /// What is needed, in a sentence.
    pub needs: &'static str,
    /// The steps, in order.
    pub steps: &'static [&'static str],
}

/// The guide for `platform`.
pub fn guide(platform: Platform) -> Guide {
    match platform {
        Platform::Google => Guide {
            needs: "A Google Business Profile you manage, and a Google Cloud OAuth client on this server.",
            steps: &[
                "In Google Cloud, enable the Business Profile APIs and create an OAuth client (web application).",
                "Add this server's redirect address (below) to the client's authorised redirect URIs.",
                "Put the client id and secret in connectors.google of tidings.toml and restart.",
                "Choose a location and Connect with Google; every location of the account is added.",
            ],
        },
        Platform::Yelp => Guide {
            needs: "A Yelp Fusion API key (read-only: Yelp shows 3 reviews per business; replies are posted by hand).",
            steps: &[
                "Create an app at yelp.com/developers and copy its API key.",
                "Connect with a token below: the business's Yelp id or alias as the account, the key as the token.",
            ],
        },
        Platform::Facebook => Guide {
            needs: "A Facebook Page you manage and a Meta app (for ratings and recommendations).",
            steps: &[
                "Create a Meta app (Business type) with Facebook Login; add this server's redirect address (below).",
                "Put the app id and secret in connectors.meta of tidings.toml and restart.",
                "Connect with Facebook and choose the Page; or connect a Page access token below.",
                "For new ratings as they happen, register the webhook address and verify token (below) for the Page object.",
            ],
        },
        Platform::Tripadvisor => Guide {
            needs: "A TripAdvisor Content API key and the location id (read-only; replies are posted by hand).",
            steps: &[
                "Request a Content API key at tripadvisor.com/developers.",
                "Connect with a token below: the location id as the account, the key as the token.",
            ],
        },
        Platform::Dataforseo => Guide {
            needs: "A DataForSEO account (login and API password); reviews of any platform it reads, paid per task.",
            steps: &[
                "Sign up at dataforseo.com and copy the API login and password.",
                "Connect below with the place's id (a Google place id or a TripAdvisor URL) as the account.",
            ],
        },
        Platform::Messenger => Guide {
            needs: "A Facebook Page, a Meta app with Messenger, and a public HTTPS address for this server.",
            steps: &[
                "In the Meta app, add Messenger and connect the Page (Connect with Messenger, or a Page token below).",
                "Under Webhooks, register the webhook address and verify token below for the Page object.",
                "Subscribe to the messages, messaging_postbacks and message_echoes fields.",
            ],
        },
        Platform::Instagram => Guide {
            needs: "An Instagram professional account linked to a Facebook Page, and a Meta app with Instagram messaging.",
            steps: &[
                "Link the Instagram account to the Page, then connect it here (Connect with Instagram, or a token below).",
                "Under Webhooks, register the webhook address and verify token below for the Instagram object.",
                "Subscribe to the messages field; allow message access in the Instagram app's settings.",
            ],
        },
        Platform::Whatsapp => Guide {
            needs: "A WhatsApp Business Account with a phone number in the Cloud API, and a permanent access token.",
            steps: &[
                "In the Meta app, add WhatsApp and note the phone number id; create a system user token.",
                "Connect below with the phone number id as the account and the token.",
                "Under Webhooks, register the webhook address and verify token below for the WhatsApp Business Account object; subscribe to messages.",
            ],
        },
        Platform::X => Guide {
            needs: "An X developer app with Account Activity API access.",
            steps: &[
                "Create the app at developer.x.com; put its consumer key and secret in connectors.x of tidings.toml.",
                "Connect below with the account id and the user's access token.",
                "Register the webhook address below with the Account Activity API; X checks it with a CRC request.",
            ],
        },
    }
}

/// Whether `url`'s host is this machine (`localhost`, `127.0.0.1`, `::1`, `0.0.0.0`): platforms
/// cannot reach such an address, so webhooks and OAuth redirects registered with it fail.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host == "0.0.0.0"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_recognised() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
            "http://127.3.4.5",
            "http://app.localhost",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in ["https://tidings.example.com", "https://10.0.0.5:8443", "https://user@inbox.example.org/x"] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn every_platform_has_steps() {
        for platform in Platform::ALL {
            let guide = guide(platform);
            assert!(!guide.needs.is_empty() && !guide.steps.is_empty(), "{platform:?}");
        }
    }
}
