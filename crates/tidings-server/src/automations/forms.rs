//! What the automations pages share: errors as pages or form messages, the redirect after a
//! change, and form field helpers.

use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::AutomationsError;
use crate::dashboard::page::{FormErrors, PageError};
use crate::http::ApiError;

pub(crate) fn automations_error(error: AutomationsError) -> PageError {
    PageError::from(ApiError::from(error))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

/// A refused form: the message under the field at fault, or above the form.
pub(crate) fn form_errors(error: AutomationsError) -> Result<FormErrors, PageError> {
    let mut errors = FormErrors::new();
    match error {
        AutomationsError::Validation { field, message } => {
            errors.form = Some(format!("{field}: {}.", message));
        }
        AutomationsError::Refused { .. }
        | AutomationsError::Pipedrive(_)
        | AutomationsError::Crm(_)
        | AutomationsError::Conflict(_) => {
            errors.form = Some(format!("{}.", capitalised(&error.to_string())));
        }
        other => return Err(automations_error(other)),
    }
    Ok(errors)
}

pub(crate) fn done(page: &str, what: &str) -> Response {
    Redirect::to(&format!("{page}?done={what}")).into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct NoFields {}

pub(crate) fn text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}
