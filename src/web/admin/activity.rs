//! The activity page over HTTP: `GET /admin/activity?days=N` (admins only,
//! 403 for everyone else, like the rest of the admin area): the page for
//! browsers (`Accept: text/html`), the same numbers as JSON otherwise.
//! `days` is the period ending today (UTC), 30 unless given; the page
//! offers 30 and 365.

use rocket::http::Accept;
use rocket::serde::json::{Json, json};
use rocket::{Either, State, get};

use crate::activity::page::Charts;
use crate::activity::{Activity, ActivityError, DEFAULT_DAYS, Report, YEAR_DAYS};
use crate::auth::Visitor;
use crate::web::csrf::CsrfToken;
use crate::web::error::ApiError;
use crate::web::pages::Template;

#[get("/admin/activity?<days>")]
pub async fn activity_page(
    days: Option<&str>,
    accept: Option<&Accept>,
    visitor: Visitor,
    csrf: CsrfToken,
    activity: &State<Activity>,
) -> Result<Either<Template, Json<Report>>, ApiError> {
    let days = days.map(|d| d.trim().parse::<u32>().map_err(|_| ActivityError::BadPeriod)).transpose()?;
    let report = activity.report(&visitor, days).await?;
    if !accept.is_some_and(|a| a.preferred().is_html()) {
        return Ok(Either::Right(Json(report)));
    }
    let charts = Charts::of(&report);
    let me = json!({ "name": visitor.name(), "guest": false });
    let periods = [DEFAULT_DAYS, YEAR_DAYS];
    Ok(Either::Left(Template::render(
        "admin-activity",
        json!({ "me": me, "csrf": csrf.0, "report": report, "charts": charts, "periods": periods }),
    )))
}
