//! HTML of the hosted Connect pages. Accessibility is part of the markup:
//! a language, one `h1` per page, a skip link, labels tied to every control,
//! radio groups in a `fieldset` with a `legend`, hints and errors joined to
//! their fields with `aria-describedby`, an error summary (`role="alert"`)
//! linking to each field, `aria-current` on the progress step, and no
//! script at all. Every text from outside is escaped.

use std::fmt::Write;

use chrono::{Duration, Utc};

use crate::domain::connect::{ConnectStep, DataScope};
use crate::domain::geo::{self, Utility};
use crate::entity::connect_session as session;
use crate::error::ApiResult;
use crate::services::connect::{consent_text, mask, return_url, FormErrors};
use crate::utility::UtilityAccount;

pub struct StepView<'a> {
    pub session: &'a session::Model,
    pub partner: &'a str,
    pub csrf: &'a str,
    pub offered: Vec<&'static Utility>,
    pub account: Option<UtilityAccount>,
    pub errors: FormErrors,
}

/// Escapes text for HTML content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn layout(title: &str, partner: Option<&str>, body: &str) -> String {
    let brand = match partner {
        Some(p) => format!(
            "<p class=\"brand\">{} <span>with gridhub</span></p>",
            esc(p)
        ),
        None => "<p class=\"brand\">gridhub</p>".into(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"/connect/assets/connect.css\">\n</head>\n\
         <body>\n<a class=\"skip\" href=\"#main\">Skip to main content</a>\n\
         <header>{brand}</header>\n<main id=\"main\">\n{body}\n</main>\n\
         <footer><p>Secured by gridhub. Your utility password is never asked for.</p></footer>\n\
         </body>\n</html>\n",
        esc(title)
    )
}

/// The page of the session's current step.
pub fn step(v: &StepView<'_>) -> ApiResult<String> {
    let step = ConnectStep::from_db(&v.session.step)?;
    let (title, body) = match step {
        ConnectStep::Utility => ("Choose your utility", utility_step(v)?),
        ConnectStep::Account => ("Your utility account", account_step(v)),
        ConnectStep::Consent => ("Review and authorize", consent_step(v)?),
    };
    let total = if v.offered.len() == 1 { 2 } else { 3 };
    let number = match (step, total) {
        (ConnectStep::Utility, _) => 1,
        (ConnectStep::Account, 3) => 2,
        (ConnectStep::Account, _) => 1,
        (ConnectStep::Consent, t) => t,
    };
    let prefix = if v.errors.errors.is_empty() {
        ""
    } else {
        "Error: "
    };
    let full_title = format!(
        "{prefix}Step {number} of {total}: {title} – connect your utility to {}",
        v.partner
    );
    let mut page = String::new();
    write!(
        page,
        "{}\n<h1>{}</h1>\n{}\n{body}\n{}",
        progress(step, total),
        esc(title),
        error_summary(&v.errors),
        cancel_form(v)
    )
    .ok();
    Ok(layout(&full_title, Some(v.partner), &page))
}

fn progress(step: ConnectStep, total: usize) -> String {
    let mut steps = vec![];
    if total == 3 {
        steps.push((ConnectStep::Utility, "Utility"));
    }
    steps.push((ConnectStep::Account, "Account"));
    steps.push((ConnectStep::Consent, "Consent"));
    let items: String = steps
        .iter()
        .map(|(s, label)| {
            if *s == step {
                format!("<li aria-current=\"step\"><strong>{label}</strong></li>")
            } else {
                format!("<li>{label}</li>")
            }
        })
        .collect();
    format!("<nav aria-label=\"Progress\"><ol class=\"progress\">{items}</ol></nav>")
}

fn error_summary(errors: &FormErrors) -> String {
    if errors.errors.is_empty() {
        return String::new();
    }
    let items: String = errors
        .errors
        .iter()
        .map(|(field, message)| {
            format!(
                "<li><a href=\"#{}\">{}</a></li>",
                field_id(field),
                esc(message)
            )
        })
        .collect();
    format!(
        "<div class=\"error-summary\" role=\"alert\" aria-labelledby=\"error-summary-title\" tabindex=\"-1\">\
         <h2 id=\"error-summary-title\">There is a problem</h2><ul>{items}</ul></div>"
    )
}

/// The id of a field's control (the first radio for the utility group).
fn field_id(field: &str) -> String {
    match field {
        "utility" => "utility-first".into(),
        f => f.to_owned(),
    }
}

fn error_of<'a>(errors: &'a FormErrors, field: &str) -> Option<&'a str> {
    errors
        .errors
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, m)| m.as_str())
}

/// A labelled text input with an optional hint and its error.
struct Input<'a> {
    name: &'a str,
    label: &'a str,
    hint: Option<&'a str>,
    kind: &'a str,
    autocomplete: &'a str,
    inputmode: Option<&'a str>,
    value: &'a str,
}

fn input(field: &Input<'_>, errors: &FormErrors) -> String {
    let mut described = vec![];
    let mut html = format!(
        "<div class=\"field{}\">\n<label for=\"{n}\">{}</label>\n",
        if error_of(errors, field.name).is_some() {
            " field-error"
        } else {
            ""
        },
        esc(field.label),
        n = field.name
    );
    if let Some(hint) = field.hint {
        described.push(format!("{}-hint", field.name));
        writeln!(
            html,
            "<p class=\"hint\" id=\"{}-hint\">{}</p>",
            field.name,
            esc(hint)
        )
        .ok();
    }
    let invalid = if let Some(message) = error_of(errors, field.name) {
        described.push(format!("{}-error", field.name));
        writeln!(
            html,
            "<p class=\"error-message\" id=\"{}-error\"><span class=\"visually-hidden\">Error:</span> {}</p>",
            field.name,
            esc(message)
        )
        .ok();
        " aria-invalid=\"true\""
    } else {
        ""
    };
    let describedby = if described.is_empty() {
        String::new()
    } else {
        format!(" aria-describedby=\"{}\"", described.join(" "))
    };
    let inputmode = field
        .inputmode
        .map(|m| format!(" inputmode=\"{m}\""))
        .unwrap_or_default();
    writeln!(
        html,
        "<input id=\"{n}\" name=\"{n}\" type=\"{}\" autocomplete=\"{}\" value=\"{}\" required{inputmode}{describedby}{invalid}>\n</div>",
        field.kind,
        field.autocomplete,
        esc(field.value),
        n = field.name
    )
    .ok();
    html
}

fn hidden_csrf(v: &StepView<'_>) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(v.csrf)
    )
}

fn cancel_form(v: &StepView<'_>) -> String {
    format!(
        "<form class=\"cancel\" method=\"post\" action=\"/connect/s/{}/cancel\">{}\
         <button type=\"submit\" class=\"secondary\">Cancel and return to {}</button></form>",
        esc(&v.session.id),
        hidden_csrf(v),
        esc(v.partner)
    )
}

fn scope_list(session: &session::Model) -> ApiResult<String> {
    let scopes: Vec<DataScope> = serde_json::from_value(session.scopes.clone())?;
    Ok(scopes
        .iter()
        .map(|s| format!("<li>{}</li>", esc(s.explanation())))
        .collect())
}

fn utility_step(v: &StepView<'_>) -> ApiResult<String> {
    let mut html = format!(
        "<p>{p} asks for access to your electricity data so it can enroll your home or business \
         in programs that pay you for using less power when the grid is stressed.</p>\n\
         <h2>What {p} will receive</h2>\n<ul>{}</ul>\n\
         <p>Your utility sends the data through gridhub. You can revoke access at any time.</p>\n",
        scope_list(v.session)?,
        p = esc(v.partner)
    );
    let error = error_of(&v.errors, "utility");
    let described = if error.is_some() {
        " aria-describedby=\"utility-error\""
    } else {
        ""
    };
    write!(
        html,
        "<form method=\"post\" action=\"/connect/s/{}/utility\" novalidate>\n{}\n\
         <fieldset{described}>\n<legend>Which utility sends your electricity bill?</legend>\n",
        esc(&v.session.id),
        hidden_csrf(v)
    )
    .ok();
    if let Some(message) = error {
        writeln!(
            html,
            "<p class=\"error-message\" id=\"utility-error\"><span class=\"visually-hidden\">Error:</span> {}</p>",
            esc(message)
        )
        .ok();
    }
    for (i, u) in v.offered.iter().enumerate() {
        let id = if i == 0 {
            "utility-first".to_owned()
        } else {
            format!("utility-{}", u.code)
        };
        let checked = if v.session.utility.as_deref() == Some(u.code) {
            " checked"
        } else {
            ""
        };
        let states: Vec<&str> = u.regions.iter().map(|r| r.state_code()).collect();
        writeln!(
            html,
            "<div class=\"choice\"><input type=\"radio\" id=\"{id}\" name=\"utility\" value=\"{}\" required{checked}>\
             <label for=\"{id}\">{} <span class=\"state\">({})</span></label></div>",
            esc(u.code),
            esc(u.name),
            states.join(", ")
        )
        .ok();
    }
    html.push_str("</fieldset>\n<button type=\"submit\">Continue</button>\n</form>");
    Ok(html)
}

fn utility_name(code: Option<&str>) -> &str {
    code.and_then(geo::find_utility)
        .map(|u| u.name)
        .unwrap_or("your utility")
}

fn account_step(v: &StepView<'_>) -> String {
    let utility = utility_name(v.session.utility.as_deref());
    let change = if v.offered.len() > 1 {
        format!(
            " <a href=\"/connect/s/{}?step=utility\">Change utility</a>",
            esc(&v.session.id)
        )
    } else {
        String::new()
    };
    let value = |f: &str| v.errors.values.get(f).map(String::as_str).unwrap_or("");
    format!(
        "<p>Utility: <strong>{}</strong>.{change}</p>\n\
         <p>Enter the details from your {} bill. {} finds your account with them; you will \
         review what is shared before anything is.</p>\n\
         <form method=\"post\" action=\"/connect/s/{}/account\" novalidate>\n{}\n{}{}\
         <button type=\"submit\">Find my account</button>\n</form>",
        esc(utility),
        esc(utility),
        esc(utility),
        esc(&v.session.id),
        hidden_csrf(v),
        input(
            &Input {
                name: "accountNumber",
                label: "Account number",
                hint: Some("8 to 14 digits, printed at the top of your bill."),
                kind: "text",
                autocomplete: "off",
                inputmode: Some("numeric"),
                value: value("accountNumber"),
            },
            &v.errors
        ),
        input(
            &Input {
                name: "postalCode",
                label: "ZIP code of the service address",
                hint: None,
                kind: "text",
                autocomplete: "postal-code",
                inputmode: Some("numeric"),
                value: value("postalCode"),
            },
            &v.errors
        ),
    )
}

fn consent_step(v: &StepView<'_>) -> ApiResult<String> {
    let Some(account) = &v.account else {
        return Ok(account_step(v));
    };
    let utility = utility_name(Some(&account.utility));
    let until =
        (Utc::now() + Duration::days(i64::from(v.session.authorization_days))).format("%B %-d, %Y");
    let points: String = account
        .service_points
        .iter()
        .map(|p| {
            format!(
                "<li>{}, {}, {} {} <span class=\"meta\">(service point {})</span></li>",
                esc(&p.address_line1),
                esc(&p.city),
                esc(&p.state),
                esc(&p.postal_code),
                esc(&p.service_id)
            )
        })
        .collect();
    let value = |f: &str| v.errors.values.get(f).map(String::as_str).unwrap_or("");
    let agree_error = error_of(&v.errors, "agree");
    let agree_extra = match agree_error {
        Some(message) => format!(
            "<p class=\"error-message\" id=\"agree-error\"><span class=\"visually-hidden\">Error:</span> {}</p>",
            esc(message)
        ),
        None => String::new(),
    };
    let agree_attrs = if agree_error.is_some() {
        " aria-invalid=\"true\" aria-describedby=\"agree-error\""
    } else {
        ""
    };
    Ok(format!(
        "<h2>Your account</h2>\n<dl class=\"summary\"><dt>Utility</dt><dd>{}</dd>\
         <dt>Account</dt><dd>{}</dd><dt>Access until</dt><dd>{until}</dd></dl>\n\
         <p><a href=\"/connect/s/{sid}?step=account\">Not your account? Change the details</a></p>\n\
         <h2>Services shared</h2>\n<ul>{points}</ul>\n\
         <h2>What {p} will receive</h2>\n<ul>{}</ul>\n\
         <form method=\"post\" action=\"/connect/s/{sid}/consent\" novalidate>\n{}\n{}{}\
         <div class=\"field consent{}\">{agree_extra}<div class=\"choice\">\
         <input type=\"checkbox\" id=\"agree\" name=\"agree\" value=\"yes\" required{agree_attrs}>\
         <label for=\"agree\">{}</label></div></div>\n\
         <button type=\"submit\">Authorize access</button>\n</form>",
        esc(utility),
        esc(&mask(&account.account_number)),
        scope_list(v.session)?,
        hidden_csrf(v),
        input(
            &Input {
                name: "name",
                label: "Name of the account holder",
                hint: None,
                kind: "text",
                autocomplete: "name",
                inputmode: None,
                value: value("name"),
            },
            &v.errors
        ),
        input(
            &Input {
                name: "email",
                label: "Email address",
                hint: Some("Kept with your consent, so the company can reach you about it."),
                kind: "email",
                autocomplete: "email",
                inputmode: None,
                value: value("email"),
            },
            &v.errors
        ),
        if agree_error.is_some() { " field-error" } else { "" },
        esc(&consent_text(v.session, v.partner, account)?),
        sid = esc(&v.session.id),
        p = esc(v.partner),
    ))
}

/// A session that cannot go on: done, cancelled or expired.
pub fn ended(row: &session::Model, partner: &str) -> String {
    let back = format!(
        "<p><a class=\"button\" href=\"{}\">Return to {}</a></p>",
        esc(&return_url(row)),
        esc(partner)
    );
    let (title, text) = match row.status.as_str() {
        "COMPLETED" => (
            "Your utility account is connected",
            format!(
                "You authorized {} to receive your utility data. You can close this page.",
                esc(partner)
            ),
        ),
        "ABANDONED" if row.abandon_reason.as_deref() == Some("CUSTOMER_CANCELLED") => (
            "You cancelled",
            "Nothing was shared. To connect later, ask for a new link.".into(),
        ),
        "ABANDONED" if row.abandon_reason.as_deref() == Some("TOO_MANY_ATTEMPTS") => (
            "We could not find your account",
            "The account details did not match too many times, so this link was closed. Ask for a new link to try again.".into(),
        ),
        _ => (
            "This link has expired",
            format!(
                "For your security, links work for a limited time. Ask {} for a new one.",
                esc(partner)
            ),
        ),
    };
    layout(
        title,
        Some(partner),
        &format!("<h1>{}</h1>\n<p>{text}</p>\n{back}", esc(title)),
    )
}

pub fn unknown_link() -> String {
    message_page(
        "This link is not valid",
        "Check that you opened the whole link from the message you received, or ask the company that sent it for a new one.",
    )
}

pub fn link_used() -> String {
    message_page(
        "This link has already been used",
        "For your security a link works once, in the browser that first opened it. If that was not you, or you switched browsers, ask the company that sent it for a new link.",
    )
}

pub fn forgery() -> String {
    message_page(
        "We could not verify this form",
        "The form did not come from this page in this browser. Go back, reload the page and try again.",
    )
}

pub fn broken() -> String {
    message_page(
        "Something went wrong on our side",
        "Nothing was shared. Please try again in a few minutes.",
    )
}

fn message_page(title: &str, text: &str) -> String {
    layout(
        title,
        None,
        &format!("<h1>{}</h1>\n<p>{}</p>", esc(title), esc(text)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">Tom & 'Jerry'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
