//! One test client for the JSON API: `app.client(token).get::<Out>(path, StatusCode::OK)` sends
//! the request, asserts the status (printing the body when it differs) and reads the body as
//! `Out`. The `…_data` calls read the success envelope's `data` as the server's own `…Out` type
//! (`.get_data::<ConversationOut>(…)`), so a test reads fields the way the API promises them;
//! `Value` remains for error bodies and for what the API does not promise as a type.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::helpers::TestApp;

/// The success envelope `{"success": true, "data": …}`, read for its `data`.
#[derive(serde::Deserialize)]
struct Envelope<T> {
    data: T,
}

/// Requests as one caller: a member's access token, an API key, or nobody.
pub struct Client<'a> {
    app: &'a TestApp,
    token: Option<&'a str>,
}

impl TestApp {
    /// A client that sends `token` as its bearer credential.
    pub fn client<'a>(&'a self, token: &'a str) -> Client<'a> {
        Client { app: self, token: Some(token) }
    }

    /// A client with the operator token.
    pub fn operator(&self) -> Client<'_> {
        self.client(&self.operator_token)
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client<'_> {
        Client { app: self, token: None }
    }
}

impl Client<'_> {
    /// A request to `path`, for the calls the methods below do not cover (a query, a header, a
    /// non-JSON body); finish it with [`expect_status`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.app.client.request(method, self.app.url(path));
        match self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get<Out: DeserializeOwned>(&self, path: &str, expected: StatusCode) -> Out {
        expect_status(self.request(Method::GET, path), expected).await
    }

    pub async fn post<In: Serialize + ?Sized, Out: DeserializeOwned>(
        &self,
        path: &str,
        body: &In,
        expected: StatusCode,
    ) -> Out {
        expect_status(self.request(Method::POST, path).json(body), expected).await
    }

    pub async fn patch<In: Serialize + ?Sized, Out: DeserializeOwned>(
        &self,
        path: &str,
        body: &In,
        expected: StatusCode,
    ) -> Out {
        expect_status(self.request(Method::PATCH, path).json(body), expected).await
    }

    pub async fn put<In: Serialize + ?Sized, Out: DeserializeOwned>(
        &self,
        path: &str,
        body: &In,
        expected: StatusCode,
    ) -> Out {
        expect_status(self.request(Method::PUT, path).json(body), expected).await
    }

    pub async fn delete<Out: DeserializeOwned>(&self, path: &str, expected: StatusCode) -> Out {
        expect_status(self.request(Method::DELETE, path), expected).await
    }

    /// [`get`](Self::get), read as the envelope's `data`.
    pub async fn get_data<Out: DeserializeOwned>(&self, path: &str, expected: StatusCode) -> Out {
        self.get::<Envelope<Out>>(path, expected).await.data
    }

    /// [`post`](Self::post), read as the envelope's `data`.
    pub async fn post_data<In: Serialize + ?Sized, Out: DeserializeOwned>(
        &self,
        path: &str,
        body: &In,
        expected: StatusCode,
    ) -> Out {
        self.post::<In, Envelope<Out>>(path, body, expected).await.data
    }

    /// [`patch`](Self::patch), read as the envelope's `data`.
    pub async fn patch_data<In: Serialize + ?Sized, Out: DeserializeOwned>(
        &self,
        path: &str,
        body: &In,
        expected: StatusCode,
    ) -> Out {
        self.patch::<In, Envelope<Out>>(path, body, expected).await.data
    }

    /// [`put`](Self::put), read as the envelope's `data`.
    pub async fn put_data<In: Serialize + ?Sized, Out: DeserializeOwned>(
        &self,
        path: &str,
        body: &In,
        expected: StatusCode,
    ) -> Out {
        self.put::<In, Envelope<Out>>(path, body, expected).await.data
    }
}

/// Sends `request`, asserts its status is `expected` (printing the request and the body if not)
/// and reads the body as `Out`; an empty body reads as JSON `null`, so `()` and `Value` accept it.
pub async fn expect_status<Out: DeserializeOwned>(request: RequestBuilder, expected: StatusCode) -> Out {
    let (sent, status, text) = send_text(request).await;
    assert_eq!(status, expected, "{sent}: {text}");
    let text = if text.is_empty() { "null" } else { text.as_str() };
    serde_json::from_str(text)
        .unwrap_or_else(|error| panic!("{sent}: the body does not read as expected ({error}): {text}"))
}

/// [`expect_status`], read as the success envelope's `data`: for requests the client's methods
/// do not cover (a query, a body-less POST).
pub async fn expect_data<Out: DeserializeOwned>(request: RequestBuilder, expected: StatusCode) -> Out {
    expect_status::<Envelope<Out>>(request, expected).await.data
}

/// Sends `request` and returns its status with its JSON body (`null` when it has none), for
/// tests that look at the status themselves (a loop until a limit answers, one status of two).
pub async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let (_, status, text) = send_text(request).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends `request`; returns what was sent (method and URL, for failure messages), the status and
/// the body.
async fn send_text(request: RequestBuilder) -> (String, StatusCode, String) {
    let (client, request) = request.build_split();
    let request = request.expect("request builds");
    let sent = format!("{} {}", request.method(), request.url());
    let response = client.execute(request).await.expect("request sent");
    let status = response.status();
    (sent, status, response.text().await.expect("body read"))
}
