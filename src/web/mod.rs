//! The HTTP surface: routes, request guards, and how errors are answered.
//!
//! Handlers here are thin: they read the request, ask a service
//! (`messages::Chat`, `live::Streams`, `auth::Accounts` and `auth::Logins`,
//! `moderation::Moderation`, `uploads::Uploads`, `access::Access`), and shape or encode the answer. Rules live in
//! those plain types; this module must not grow business logic of its own.

mod account;
mod admin;
mod avatars;
mod bearer;
mod changes;
mod csrf;
mod directory;
mod error;
mod events;
mod headers;
mod hooks;
mod identity;
mod install;
mod join;
mod moderation;
mod openapi;
mod ops;
mod origin;
mod pages;
mod passkeys;
mod people;
mod profiles;
mod rooms;
mod search;
mod second_factor;
mod settings;
pub mod sse;
mod uploads;
mod ws;

pub use account::safe_next;
pub use error::ApiError;
pub use events::{MAX_STREAM_ROOMS, start_from, stream_rooms};
pub use headers::{CONTENT_SECURITY_POLICY, SecurityHeaders};
pub use identity::{GUEST_COOKIE, SESSION_COOKIE};
pub use origin::CrossOriginGuard;
pub use ws::ClientFrame;

use rocket::{Catcher, Route, catchers, routes};

pub fn routes() -> Vec<Route> {
    routes![
        account::register_page,
        account::register,
        account::login_page,
        account::login,
        account::logout,
        account::me,
        settings::settings_page,
        settings::save_settings,
        settings::strings,
        account::account,
        account::change_password,
        account::logout_everywhere,
        account::delete_account,
        rooms::lobby,
        rooms::room,
        rooms::open_room,
        rooms::post_json,
        rooms::post_form,
        rooms::post_unsupported,
        rooms::history,
        changes::edit,
        changes::react,
        changes::versions,
        uploads::upload,
        uploads::file,
        uploads::thumb,
        ops::healthz,
        ops::ready,
        ops::live,
        ops::metrics,
        ws::room_ws,
        moderation::delete_message,
        moderation::mute,
        moderation::kick,
        moderation::lock,
        moderation::members_only,
        moderation::ban,
        moderation::set_role,
        moderation::audit,
        events::room_events,
        events::multi_events,
        directory::rooms,
        people::open_dm,
        people::dm_page,
        people::block,
        people::blocks,
        people::typing,
        people::read,
        people::settings,
        people::change_settings,
        directory::presence,
        search::search,
        openapi::document,
        origin::refused,
        pages::static_file,
        pages::favicon,
        install::manifest,
        install::service_worker,
        hooks::hook,
        admin::admin,
        admin::activity_page,
        admin::registration_form,
        admin::registration_json,
        admin::create_invite_form,
        admin::create_invite_json,
        admin::list_invites,
        admin::revoke_invite_form,
        admin::revoke_invite_json,
        admin::ban_form,
        admin::role_form,
        admin::reset_link_form,
        admin::reset_link_json,
        admin::create_account,
        admin::lock_form,
        admin::room_rules,
        join::join_page,
        join::reset_page,
        join::reset,
        profiles::change_display,
        avatars::upload_avatar,
        avatars::remove_avatar,
        avatars::remove_avatar_form,
        avatars::avatar,
        second_factor::code_form,
        second_factor::submit_code,
        second_factor::security,
        second_factor::start_totp,
        second_factor::qr_code,
        second_factor::confirm_totp,
        second_factor::turn_off_totp,
        passkeys::start_registration,
        passkeys::finish_registration,
        passkeys::start_login,
        passkeys::finish_login,
        passkeys::remove,
    ]
}

pub fn catchers() -> Vec<Catcher> {
    catchers![error::catch_all]
}
