//! `Authorization: Bearer <token>`: how a bot says who it is.
//!
//! A request that carries a bearer token is judged by the token alone: its
//! cookies are never read (a bot's request cannot become a person's by also
//! sending a session cookie, nor a person's a bot's), and a token that is
//! malformed, unknown or revoked is a 401 with the reason, never a fall-back
//! to a guest. No browser sends this header by itself (another site's page
//! would need a CORS preflight, which this server never grants), so it is no
//! ambient credential: JSON posts with it need no CSRF token, and the
//! cross-origin check, which exists for cookies, does not apply to it
//! (`web::origin`). The identity guards (`web::identity`) ask this module
//! first; the token itself is `bots`' business.

use rocket::http::Status;
use rocket::request::{self, Request};

use super::error::RefusalReason;
use crate::bots::{BotUser, Bots};

/// What a request's `Authorization` header says.
#[derive(Debug, Clone)]
pub enum Bearer {
    /// No bearer token: the request is judged by its cookies.
    Absent,
    /// A live bot's token.
    Bot(BotUser),
    /// A bearer token that is no live bot's: 401.
    Invalid,
}

/// The bearer token of a request, if its `Authorization` header has the
/// `Bearer` scheme (in any case, RFC 6750); other schemes are not ours.
pub fn token<'r>(request: &'r Request<'_>) -> Option<&'r str> {
    let value = request.headers().get_one("Authorization")?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether the request carries a bearer token (valid or not).
pub fn carries_bearer(request: &Request<'_>) -> bool {
    token(request).is_some()
}

/// Resolved once per request (cached): every guard that asks gets the
/// same answer for one database read.
#[derive(Debug, Clone)]
struct Resolved(Result<Bearer, ()>);

/// The request's bearer token, looked up; `Err` when the store failed
/// (logged here).
pub async fn bearer(request: &Request<'_>) -> Result<Bearer, ()> {
    let resolved = request
        .local_cache_async(async {
            let Some(token) = token(request) else { return Resolved(Ok(Bearer::Absent)) };
            let bots = request.rocket().state::<Bots>().expect("Bots is managed");
            Resolved(match bots.authenticate(token).await {
                Ok(Some(bot)) => Ok(Bearer::Bot(bot)),
                Ok(None) => Ok(Bearer::Invalid),
                Err(e) => {
                    tracing::error!("checking a bearer token failed: {e}");
                    Err(())
                }
            })
        })
        .await;
    resolved.0.clone()
}

/// The refusal of a guard for a request whose bearer token is no live
/// bot's (401 with the reason), or whose check failed (503).
pub fn refusal<T>(failed: bool, request: &Request<'_>) -> request::Outcome<T, ()> {
    if failed {
        return request::Outcome::Error((Status::ServiceUnavailable, ()));
    }
    request.local_cache(|| RefusalReason::new("the bearer token is not valid: unknown or revoked"));
    request::Outcome::Error((Status::Unauthorized, ()))
}

#[cfg(test)]
mod tests {
    use rocket::http::Header;
    use rocket::local::blocking::Client;

    #[test]
    fn only_the_bearer_scheme_names_a_token() {
        let client = Client::untracked(rocket::build()).unwrap();
        let token = |value: &'static str| {
            let request = client.get("/").header(Header::new("Authorization", value));
            super::token(request.inner()).map(str::to_owned)
        };
        assert_eq!(token("Bearer bot_abc").as_deref(), Some("bot_abc"));
        assert_eq!(token("bearer  bot_abc ").as_deref(), Some("bot_abc"));
        assert_eq!(token("Bearer ").as_deref(), Some(""), "an empty token is a (bad) token");
        assert_eq!(token("Basic dXNlcjpwYXNz"), None);
        assert_eq!(token("Bearer").as_deref(), Some(""));
        assert_eq!(super::token(client.get("/").inner()), None);
    }
}
