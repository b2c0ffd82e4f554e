//! Where settings come from, in order: Rocket's defaults, then ours where
//! they differ ([`SafeDefaults`]), then `Rocket.toml` (or the file
//! `ROCKET_CONFIG` names) if there is one, then `ROCKET_*` environment
//! variables. So the binary keeps its security defaults from any working
//! directory, with or without `Rocket.toml`.

use rocket::figment::Figment;

/// The default figment: Rocket's defaults with ours on top ([`SafeDefaults`]),
/// then `Rocket.toml` if there is one (or the file `ROCKET_CONFIG` names),
/// then `ROCKET_*` environment variables; the profile from `ROCKET_PROFILE`.
/// So the binary keeps its security defaults from any working directory,
/// with or without `Rocket.toml`.
pub fn figment() -> Figment {
    figment_with_file(rocket::figment::providers::Env::var_or("ROCKET_CONFIG", "Rocket.toml"))
}

/// [`figment`] with the TOML file named (which need not exist).
pub fn figment_with_file(toml: impl AsRef<std::path::Path>) -> Figment {
    use rocket::figment::Profile;
    use rocket::figment::providers::{Env, Format, Serialized, Toml};
    Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(SafeDefaults::default()))
        .merge(Toml::file(toml).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or("ROCKET_PROFILE", rocket::Config::DEFAULT_PROFILE))
}

/// Where our defaults differ from Rocket's, kept in code rather than only
/// in `Rocket.toml`.
#[derive(Debug, serde::Serialize)]
pub struct SafeDefaults {
    /// `false`: the client address is the socket's; a client-sent
    /// `X-Real-IP` is trusted only when a proxy is named.
    pub ip_header: bool,
    /// `false`: no `Server` header.
    pub ident: bool,
    /// Request bodies (merged into Rocket's other limits).
    pub limits: BodyLimits,
}

/// The body limits [`SafeDefaults`] sets.
#[derive(Debug, serde::Serialize)]
pub struct BodyLimits {
    pub json: &'static str,
    pub form: &'static str,
}

impl Default for SafeDefaults {
    fn default() -> Self {
        Self { ip_header: false, ident: false, limits: BodyLimits { json: "64 KiB", form: "64 KiB" } }
    }
}

#[cfg(test)]
mod tests {
    use rocket::data::ToByteUnit;

    #[test]
    fn the_safe_defaults_hold_without_rocket_toml_and_with_it() {
        for file in ["/nonexistent/Rocket.toml", "Rocket.toml"] {
            let config: rocket::Config = super::figment_with_file(file).extract().unwrap();
            assert_eq!(config.ip_header, None, "{file}: no client-chosen address header");
            assert_eq!(config.ident, rocket::config::Ident::none(), "{file}: no Server header");
            assert_eq!(config.limits.get("json"), Some(64.kibibytes()), "{file}");
            assert_eq!(config.limits.get("form"), Some(64.kibibytes()), "{file}");
            assert!(config.limits.get("file").is_some(), "{file}: Rocket's other limits stay");
        }
    }

    #[test]
    fn rocket_toml_sets_nothing_the_code_does_not_already_default_to() {
        let with = super::figment_with_file("Rocket.toml");
        let without = super::figment_with_file("/nonexistent/Rocket.toml");
        let settings = |f: &rocket::figment::Figment| {
            serde_json::to_value(super::super::Settings::from_figment(f).unwrap()).unwrap()
        };
        assert_eq!(settings(&with), settings(&without));
        let rocket = |f: &rocket::figment::Figment| f.extract::<rocket::Config>().unwrap();
        assert_eq!(rocket(&with), rocket(&without));
    }
}
