//! What every dashboard page shares: the layout around a page's own content, the signed-in
//! member's menu in the header, form errors, and error pages (HTML, not the API's JSON).

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, OptionalFromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use tidings_store::StoreError;

use super::csrf::Csrf;
use super::member::DashboardUser;
use super::{NavItem, asset_url, nav_for};
use crate::AppState;
use crate::access::{ClientAddressPolicy, Role};
use crate::http::ApiError;

/// The header's menu for a signed-in member: who, where, and the workspace switcher.
pub struct UserMenu {
    /// The member's name.
    pub name: String,
    /// Their address.
    pub email: String,
    /// The workspace this session acts in.
    pub workspace: String,
    /// The member's role there.
    pub role: String,
    /// Every workspace the member belongs to, for the switcher.
    pub workspaces: Vec<WorkspaceChoice>,
    /// The CSRF token for the switcher and sign-out forms.
    pub csrf: String,
    /// The page to come back to after switching.
    pub back: String,
}

/// One workspace in the switcher.
pub struct WorkspaceChoice {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether the session acts in it.
    pub current: bool,
}

/// The layout around a page's content.
#[derive(Template)]
#[template(path = "page.html")]
struct PageTemplate<'a> {
    nav: Vec<NavItem>,
    css: String,
    htmx: String,
    title: &'a str,
    menu: Option<UserMenu>,
    body: String,
}

/// A whole page: `body` inside the layout, with the navigation of `role` (`None`: signed out)
/// and `current` marked.
pub fn render(
    current: &str,
    title: &str,
    role: Option<Role>,
    menu: Option<UserMenu>,
    body: &impl Template,
) -> Result<Html<String>, PageError> {
    let page = PageTemplate {
        nav: nav_for(current, role),
        css: asset_url("app.css"),
        htmx: asset_url("htmx.min.js"),
        title,
        menu,
        body: body.render()?,
    };
    Ok(Html(page.render()?))
}

/// Errors of a submitted form: one message per field, and one for the form as a whole.
#[derive(Debug, Default)]
pub struct FormErrors {
    fields: Vec<(&'static str, String)>,
    /// A message about the whole form (wrong password, a refused action).
    pub form: Option<String>,
}

impl FormErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Errors with only a form-level message.
    pub fn form(message: impl Into<String>) -> Self {
        Self { fields: Vec::new(), form: Some(message.into()) }
    }

    /// Adds a message for `field` (the first one for a field is kept).
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.fields.push((field, message.into()));
        }
    }

    /// The message for `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.iter().find(|(name, _)| *name == field).map(|(_, message)| message.as_str())
    }

    /// Whether `field` has a message (for `aria-invalid`).
    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.form.is_none()
    }
}

/// Why a page could not be shown, rendered as an HTML page with the matching status.
#[derive(Debug, Clone)]
pub struct PageError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A sentence for people.
    pub message: String,
    /// Where to go to put it right, shown as a link under the message.
    pub link: Option<PageLink>,
}

/// A link an error page offers: the page where the visitor can put the problem right.
#[derive(Debug, Clone, Copy)]
pub struct PageLink {
    /// Where it leads.
    pub href: &'static str,
    /// Its text.
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorBody<'a> {
    heading: &'a str,
    message: &'a str,
    status: u16,
    link: Option<PageLink>,
}

impl PageError {
    /// An error page with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), link: None }
    }

    /// The same error, with a link to the page that puts it right.
    pub fn with_link(mut self, href: &'static str, label: &'static str) -> Self {
        self.link = Some(PageLink { href, label });
        self
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 500; the cause is logged, never shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error while rendering a page");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.")
    }
}

impl PageError {
    /// The error page, in the layout with `menu` in its header (`None`: signed out).
    fn render_with(&self, role: Option<Role>, menu: Option<UserMenu>) -> Response {
        let heading = match self.status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::TOO_MANY_REQUESTS => "Too many requests",
            s if s.is_server_error() => "Something went wrong",
            _ => "Something is not right",
        };
        let body = ErrorBody { heading, message: &self.message, status: self.status.as_u16(), link: self.link };
        match render("", heading, role, menu, &body) {
            Ok(html) => (self.status, html).into_response(),
            Err(error) => (self.status, error.message).into_response(),
        }
    }
}

impl IntoResponse for PageError {
    /// The page as a signed-out visitor sees it; [`signed_in_error_pages`] puts the member's
    /// header back, so it is carried along in the response's extensions.
    fn into_response(self) -> Response {
        let mut response = self.render_with(None, None);
        response.extensions_mut().insert(self);
        response
    }
}

/// Middleware: an error page shown to a signed-in member keeps their header (menu, workspace,
/// navigation), wherever it was raised (an extractor, a handler, the 404 of an unknown path).
pub async fn signed_in_error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // What identifies the visitor, kept to look them up only if an error page comes back.
    let mut visitor = Request::new(());
    *visitor.method_mut() = request.method().clone();
    *visitor.uri_mut() = request.uri().clone();
    *visitor.headers_mut() = request.headers().clone();
    if let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        visitor.extensions_mut().insert(*peer);
    }
    if let Some(policy) = request.extensions().get::<ClientAddressPolicy>() {
        visitor.extensions_mut().insert(*policy);
    }
    let response = next.run(request).await;
    let Some(error) = response.extensions().get::<PageError>().cloned() else { return response };
    let (mut parts, ()) = visitor.into_parts();
    let Ok(Some(user)) =
        <DashboardUser as OptionalFromRequestParts<AppState>>::from_request_parts(&mut parts, &state).await
    else {
        return response;
    };
    let csrf = Csrf::of(&parts.headers, &state);
    let back = parts.uri.path().to_owned();
    match user.menu(&state, &csrf, &back).await {
        Ok(menu) => {
            let page = error.render_with(Some(user.auth.role), Some(menu));
            let mut page = (csrf, page).into_response();
            // Headers the failed handler set (Retry-After, session cookies) still apply.
            for (name, value) in response.headers() {
                if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE && !page.headers().contains_key(name)
                {
                    page.headers_mut().append(name, value.clone());
                }
            }
            page
        }
        Err(_) => response,
    }
}

impl From<askama::Error> for PageError {
    fn from(error: askama::Error) -> Self {
        Self::internal(&error)
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        Self::internal(&error)
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        let message = if error.status.is_server_error() {
            "Something went wrong on our side. Please try again.".to_owned()
        } else {
            let mut message = error.message;
            if let Some(first) = message.get(..1) {
                message = first.to_uppercase() + &message[1..];
            }
            message
        };
        Self::new(error.status, message)
    }
}
