//! OAuth 1.0a request signing (RFC 5849, `HMAC-SHA1`). X's user-context endpoints (sending DMs)
//! take it with the account's access token and token secret, which never expire: the credentials
//! X's Account Activity API works with.
//!
//! Docs: <https://docs.x.com/resources/fundamentals/authentication/oauth-1-0a/creating-a-signature>.

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;

/// RFC 3986's unreserved characters stay as they are; everything else is encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The app's consumer key pair and the account's access token pair.
pub struct Keys<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: &'a str,
    pub token_secret: &'a str,
}

/// One request to sign: its query and form parameters (a JSON body is not signed), and the
/// nonce and time (unix seconds) it is sent with.
pub struct Request<'a> {
    pub method: &'a str,
    /// Without a query string.
    pub url: &'a str,
    pub params: &'a [(&'a str, &'a str)],
    pub nonce: &'a str,
    pub timestamp: i64,
}

/// The `Authorization: OAuth …` header value for `request`.
pub fn authorization(keys: &Keys<'_>, request: &Request<'_>) -> String {
    let timestamp = request.timestamp.to_string();
    let oauth = [
        ("oauth_consumer_key", keys.consumer_key),
        ("oauth_nonce", request.nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_token", keys.token),
        ("oauth_version", "1.0"),
    ];
    let mut pairs: Vec<(String, String)> =
        request.params.iter().chain(oauth.iter()).map(|(k, v)| (encode(k), encode(v))).collect();
    pairs.sort();
    let parameters = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let base = format!("{}&{}&{}", request.method.to_ascii_uppercase(), encode(request.url), encode(&parameters));
    let key = format!("{}&{}", encode(keys.consumer_secret), encode(keys.token_secret));
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(base.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let fields = oauth
        .iter()
        .map(|(k, v)| (*k, *v))
        .chain([("oauth_signature", signature.as_str())])
        .map(|(k, v)| format!("{k}=\"{}\"", encode(v)))
        .collect::<Vec<_>>();
    format!("OAuth {}", fields.join(", "))
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// X's worked example ("Creating a signature"): the documented keys, nonce and time give the
    /// documented signature.
    #[test]
    fn the_documented_example_signs_as_documented() {
        let keys = Keys {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog",
            consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        };
        let request = Request {
            method: "post",
            url: "https://api.twitter.com/1.1/statuses/update.json",
            params: &[("include_entities", "true"), ("status", "Hello Ladies + Gentlemen, a signed OAuth request!")],
            nonce: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
            timestamp: 1_318_622_958,
        };
        let header = authorization(&keys, &request);
        assert!(header.starts_with("OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", "), "{header}");
        assert!(header.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""), "{header}");
        assert!(header.contains("oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\""), "{header}");
    }
}
