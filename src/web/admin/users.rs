//! The admin page's forms for accounts and rooms. Bans, roles, locks and
//! allow lists post to moderation's own paths (`/admin/ban`, `/admin/role`,
//! `/rooms/<room>/lock`) or `/admin/rooms`, and ask
//! `moderation::Moderation`, which checks ranks and writes the audit line;
//! reset links and new accounts ask `access::Access`.

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, post};
use serde::Deserialize;

use super::{Notice, Shown, page};
use crate::access::Access;
use crate::auth::{Role, UnknownRole, Visitor};
use crate::moderation::Moderation;
use crate::rooms::RoomName;
use crate::web::csrf::{CsrfForm, CsrfProtected};
use crate::web::error::ApiError;

/// Most names one allow-list change may add or remove.
const MAX_NAMES: usize = 50;

/// A name as moderation takes it: an account or a guest name.
fn target(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err(ApiError::BadJson("user must name an account or a guest".into()));
    }
    Ok(name)
}

/// Names separated by spaces or commas, each checked, at most 50.
fn names(text: &str) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> =
        text.split(|c: char| c == ',' || c.is_whitespace()).filter(|n| !n.is_empty()).map(str::to_owned).collect();
    if names.len() > MAX_NAMES {
        return Err(ApiError::BadJson(format!("at most {MAX_NAMES} names at once")));
    }
    for name in &names {
        target(name)?;
    }
    Ok(names)
}

macro_rules! csrf_form {
    ($name:ident { $($field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        #[derive(rocket::FromForm)]
        pub struct $name {
            $(#[field(default = $default)] $field: $ty,)*
            #[field(default = String::new())]
            csrf: String,
        }

        impl CsrfProtected for $name {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    };
}

csrf_form!(BanForm { user: String = String::new(), banned: bool = true });
csrf_form!(RoleForm { user: String = String::new(), role: String = String::new() });
csrf_form!(UserForm { user: String = String::new() });
csrf_form!(NewAccount { username: String = String::new(), password: String = String::new() });
csrf_form!(LockForm { locked: bool = true });
csrf_form!(RulesForm {
    room: String = String::new(),
    members_only: bool = false,
    add: String = String::new(),
    remove: String = String::new(),
});

#[post("/admin/ban", format = "form", data = "<form>", rank = 1)]
pub async fn ban_form(
    form: CsrfForm<BanForm>,
    visitor: Visitor,
    moderation: &State<Moderation>,
) -> Result<Redirect, ApiError> {
    moderation.ban(&visitor, target(&form.user)?, form.banned).await?;
    Ok(Redirect::to("/admin#users"))
}

#[post("/admin/role", format = "form", data = "<form>", rank = 1)]
pub async fn role_form(
    form: CsrfForm<RoleForm>,
    visitor: Visitor,
    moderation: &State<Moderation>,
) -> Result<Redirect, ApiError> {
    let role: Role = form.role.parse().map_err(|e: UnknownRole| ApiError::BadJson(e.to_string()))?;
    moderation.set_role(&visitor, target(&form.user)?, role).await?;
    Ok(Redirect::to("/admin#users"))
}

/// The admin page with a one-time reset link for the account, shown once.
#[post("/admin/reset-link", format = "form", data = "<form>", rank = 1)]
pub async fn reset_link_form(
    form: CsrfForm<UserForm>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<Shown, ApiError> {
    let link = access.reset_link(&visitor, target(&form.user)?).await?;
    let notice = Notice {
        text: format!("A password reset link for {}, valid for an hour and once: hand it over yourself.", form.user),
        link: Some(link),
    };
    Ok((Status::Created, page(access, &visitor, "", &form.csrf, Some(notice)).await?))
}

#[derive(Deserialize)]
pub struct UserJson {
    user: String,
}

/// `{"user"}` → 201 `{"url": "/reset/<token>"}`.
#[post("/admin/reset-link", format = "json", data = "<body>", rank = 2)]
pub async fn reset_link_json(
    body: Json<UserJson>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<(Status, Json<Value>), ApiError> {
    let url = access.reset_link(&visitor, target(&body.user)?).await?;
    Ok((Status::Created, Json(json!({ "url": url }))))
}

/// An admin creates an account (the way in when registration is closed).
#[post("/admin/users", format = "form", data = "<form>")]
pub async fn create_account(
    form: CsrfForm<NewAccount>,
    visitor: Visitor,
    access: &State<Access>,
) -> Result<Shown, ApiError> {
    access.create_account(&visitor, &form.username, &form.password).await?;
    let notice = Notice { text: format!("Account {} created.", form.username), link: None };
    Ok((Status::Created, page(access, &visitor, &form.username, &form.csrf, Some(notice)).await?))
}

#[post("/rooms/<room>/lock", format = "form", data = "<form>", rank = 1)]
pub async fn lock_form(
    room: &str,
    form: CsrfForm<LockForm>,
    visitor: Visitor,
    moderation: &State<Moderation>,
) -> Result<Redirect, ApiError> {
    moderation.lock_room(&visitor, &RoomName::parse(room)?, form.locked).await?;
    Ok(Redirect::to("/admin#rooms"))
}

/// A room's members-only switch and allow list (any room, by name).
#[post("/admin/rooms", format = "form", data = "<form>")]
pub async fn room_rules(
    form: CsrfForm<RulesForm>,
    visitor: Visitor,
    moderation: &State<Moderation>,
) -> Result<Redirect, ApiError> {
    let room = RoomName::parse(form.room.trim().trim_start_matches('#'))?;
    let (add, remove) = (names(&form.add)?, names(&form.remove)?);
    moderation.members_only(&visitor, &room, form.members_only, &add, &remove).await?;
    Ok(Redirect::to("/admin#rooms"))
}
