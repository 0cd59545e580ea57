//! The profile: name, password, address confirmation and two-factor sign-in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{DoneQuery, INVALID, NoFields, form_errors, no_account, refused_status};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::service::{IdentityError, TwoFactorEnrolment};
use crate::identity::session::DashboardUser;

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NameForm {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PasswordForm {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CodeForm {
    code: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DisableTwoFactorForm {
    password: String,
    code: String,
}

/// Where setting up two-factor sign-in stands, beyond what is stored.
#[derive(Default)]
enum TwoFactorStep {
    /// Nothing in progress: the page shows it on or off.
    #[default]
    Settled,
    /// Set up just now: the secret for the authenticator app, and the form for its first code.
    Enrolling(TwoFactorEnrolment),
    /// Turned on just now: the recovery codes, shown this once.
    Enabled(Vec<String>),
}

/// What the profile page shows besides the stored account.
#[derive(Default)]
struct ProfileView<'a> {
    /// The name as entered, when its form comes back with an error.
    name: Option<&'a str>,
    notice: Option<&'static str>,
    two_factor: TwoFactorStep,
}

impl ProfileView<'_> {
    fn notice(notice: &'static str) -> Self {
        Self { notice: Some(notice), ..Self::default() }
    }
}

#[derive(Template)]
#[template(path = "identity/profile.html")]
struct ProfileBody<'a> {
    csrf: &'a str,
    email: &'a str,
    verified: bool,
    name: &'a str,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
    /// The workspace requires two-factor sign-in and the member has not turned it on yet.
    owes_two_factor: bool,
    two_factor_on: bool,
    enrolment: Option<TwoFactorEnrolment>,
    /// The set-up link as a QR code (inline SVG), for the authenticator app's camera.
    enrolment_qr: Option<String>,
    recovery_codes: Vec<String>,
}

/// `url` as a QR code: an inline SVG element, drawn on the server (no script, no image request).
/// None if the link is too long for a QR code, which a TOTP link never is.
fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build();
    // The renderer writes a standalone document; inside HTML only the <svg> element belongs.
    let element = svg.find("<svg").map(|start| &svg[start..])?;
    Some(element.replacen(
        "<svg ",
        "<svg id=\"two-factor-qr\" role=\"img\" aria-label=\"QR code of the set-up link\" ",
        1,
    ))
}

async fn render_profile(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    view: ProfileView<'_>,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let row = state.identity.user(&user.user_id).await.map_err(no_account)?;
    // Read after the change this request made, so a member who just turned it on owes nothing.
    let two_factor_on = row.totp_enabled_at.is_some();
    let (enrolment, recovery_codes) = match view.two_factor {
        TwoFactorStep::Settled => (None, Vec::new()),
        TwoFactorStep::Enrolling(enrolment) => (Some(enrolment), Vec::new()),
        TwoFactorStep::Enabled(codes) => (None, codes),
    };
    let body = ProfileBody {
        csrf: csrf.token(),
        email: &row.email,
        verified: row.email_verified_at.is_some(),
        name: view.name.unwrap_or(&row.name),
        notice: view.notice,
        errors,
        owes_two_factor: user.auth.owes_two_factor && !two_factor_on,
        two_factor_on,
        enrolment_qr: enrolment.as_ref().and_then(|e| qr_svg(&e.otpauth_url)),
        enrolment,
        recovery_codes,
    };
    let html = user.page(state, &csrf, "/settings/profile", "Profile", &body).await?;
    // The page may show a TOTP secret or recovery codes: never cached.
    Ok((status, [(header::CACHE_CONTROL, "no-store")], csrf, html).into_response())
}

pub(super) async fn profile_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let notice = match query.done.as_deref() {
        Some("name") => Some("Your name was saved."),
        Some("password") => Some("Your password was changed. Your other sessions were signed out."),
        Some("verification-sent") => {
            Some("The confirmation email is on its way again. Follow the link in it to confirm your address.")
        }
        Some("already-verified") => Some("Your address is already confirmed."),
        Some("two-factor-off") => Some("Two-factor sign-in is off. Signing in asks for your password only."),
        _ => None,
    };
    let view = ProfileView { notice, ..ProfileView::default() };
    render_profile(&state, &user, csrf, view, &FormErrors::new(), StatusCode::OK).await
}

pub(super) async fn update_profile(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<NameForm>,
) -> Result<Response, PageError> {
    match state.identity.rename(&user.user_id, &form.name).await {
        Ok(()) => Ok(Redirect::to("/settings/profile?done=name").into_response()),
        Err(error) => {
            let errors = form_errors(error)?;
            let view = ProfileView { name: Some(&form.name), ..ProfileView::default() };
            render_profile(&state, &user, csrf, view, &errors, INVALID).await
        }
    }
}

pub(super) async fn change_password(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let changed = state
        .identity
        .change_password(&user.user_id, &form.current_password, &form.new_password, &user.session_id)
        .await;
    match changed {
        Ok(()) => Ok(Redirect::to("/settings/profile?done=password").into_response()),
        Err(error) => {
            let errors = form_errors(error)?;
            render_profile(&state, &user, csrf, ProfileView::default(), &errors, INVALID).await
        }
    }
}

/// Sends the confirmation email again, counted like a sign-in attempt from this address.
pub(super) async fn resend_verification(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let row = state.identity.user(&user.user_id).await.map_err(no_account)?;
    if let Err(limited) = state.limits.check_sign_in(user.auth.origin.ip.as_deref(), &row.email) {
        let errors = FormErrors::form("Too many attempts for now. Wait a minute, then ask for the email again.");
        return render_profile(&state, &user, csrf, ProfileView::default(), &errors, limited.status).await;
    }
    match state.identity.resend_verification(&user.user_id).await {
        Ok(()) => Ok(Redirect::to("/settings/profile?done=verification-sent").into_response()),
        Err(IdentityError::AlreadyVerified) => {
            Ok(Redirect::to("/settings/profile?done=already-verified").into_response())
        }
        Err(error) => Err(error.into()),
    }
}

/// The profile page again after a refused two-factor step, with the setup still pending shown
/// again when there is one (so a mistyped first code can be retried).
async fn two_factor_refused(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    error: IdentityError,
) -> Result<Response, PageError> {
    let status = refused_status(&error);
    let errors = form_errors(error)?;
    let two_factor = match state.identity.pending_two_factor(&user.user_id).await? {
        Some(enrolment) => TwoFactorStep::Enrolling(enrolment),
        None => TwoFactorStep::Settled,
    };
    render_profile(state, user, csrf, ProfileView { two_factor, ..ProfileView::default() }, &errors, status).await
}

/// Starts setting up two-factor sign-in: a new secret, shown on the page that answers. Open to
/// members who owe their workspace a second factor: this is where they pay it.
pub(super) async fn setup_two_factor(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    match state.identity.setup_two_factor(&user.user_id).await {
        Ok(enrolment) => {
            let view = ProfileView { two_factor: TwoFactorStep::Enrolling(enrolment), ..ProfileView::default() };
            render_profile(&state, &user, csrf, view, &FormErrors::new(), StatusCode::OK).await
        }
        Err(error) => two_factor_refused(&state, &user, csrf, error).await,
    }
}

/// Turns two-factor sign-in on with the app's first code, and shows the recovery codes once.
pub(super) async fn enable_two_factor(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let auth = &user.auth;
    let enabled =
        state.identity.enable_two_factor(&auth.workspace_id, &user.user_id, auth.role, form.code.trim(), &auth.origin);
    match enabled.await {
        Ok(codes) => {
            let view = ProfileView {
                two_factor: TwoFactorStep::Enabled(codes),
                ..ProfileView::notice("Two-factor sign-in is on.")
            };
            render_profile(&state, &user, csrf, view, &FormErrors::new(), StatusCode::OK).await
        }
        Err(error) => two_factor_refused(&state, &user, csrf, error).await,
    }
}

/// Turns two-factor sign-in off with the password and a code or a recovery code.
pub(super) async fn disable_two_factor(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<DisableTwoFactorForm>,
) -> Result<Response, PageError> {
    let mut errors = FormErrors::new();
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    if form.code.trim().is_empty() {
        errors.add("code", "Enter the code your authenticator app shows, or a recovery code.");
    }
    if !errors.is_empty() {
        return render_profile(&state, &user, csrf, ProfileView::default(), &errors, INVALID).await;
    }
    let auth = &user.auth;
    let disabled = state.identity.disable_two_factor(
        &auth.workspace_id,
        &user.user_id,
        auth.role,
        &form.password,
        form.code.trim(),
        &auth.origin,
    );
    match disabled.await {
        Ok(()) => Ok(Redirect::to("/settings/profile?done=two-factor-off").into_response()),
        Err(error) => two_factor_refused(&state, &user, csrf, error).await,
    }
}
