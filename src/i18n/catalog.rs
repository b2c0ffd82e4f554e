//! The catalogs: `locales/en.toml` and `locales/zh.toml`, built into the
//! binary and parsed once. Each is a table of tables of strings; a page
//! template gets the whole of its language's catalog as `t`, and the page's
//! scripts get the `[script]` table as `/i18n/<lang>.js`.
//!
//! The catalogs are part of the source: the tests below fail the build's
//! test run if the two languages differ in keys or placeholders, a value is
//! empty, or a template or script names a key that is not there, so a page
//! never shows a raw key.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::Value;

use super::Lang;

const SOURCES: [(Lang, &str); 2] =
    [(Lang::En, include_str!("../../locales/en.toml")), (Lang::Zh, include_str!("../../locales/zh.toml"))];

/// One language's words.
pub struct Catalog {
    /// `{table: {key: text}}`, for templates.
    tables: Value,
    /// `/i18n/<lang>.js`: the `[script]` table for the page's scripts.
    script: String,
    /// A validator for `script` (it changes only with the binary).
    etag: String,
}

/// Tables of strings, in key order.
type Tables = BTreeMap<String, BTreeMap<String, String>>;

static CATALOGS: LazyLock<Vec<(Lang, Catalog)>> = LazyLock::new(|| {
    SOURCES
        .iter()
        // The catalogs are compiled in and checked by this module's tests:
        // a malformed one cannot reach a build that passed them.
        .map(|(lang, source)| (*lang, Catalog::parse(source).expect("locales/*.toml parse (see the catalog tests)")))
        .collect()
});

/// The catalog of `lang`.
pub fn catalog(lang: Lang) -> &'static Catalog {
    CATALOGS.iter().find(|(l, _)| *l == lang).map(|(_, c)| c).expect("every language has a catalog")
}

impl Catalog {
    fn parse(source: &str) -> Result<Catalog, String> {
        let tables: Tables = toml::from_str(source).map_err(|e| e.to_string())?;
        let script_table = tables.get("script").cloned().unwrap_or_default();
        let script_json = serde_json::to_string(&script_table).map_err(|e| e.to_string())?;
        let script = format!("self.CHAT_STRINGS = {script_json};\n");
        let etag = format!("\"{:016x}\"", fnv1a(script.as_bytes()));
        let tables = serde_json::to_value(&tables).map_err(|e| e.to_string())?;
        Ok(Catalog { tables, script, etag })
    }

    /// Every table, for a template's `t`.
    pub fn tables(&self) -> &Value {
        &self.tables
    }

    /// One text, if the catalog has it.
    pub fn text(&self, table: &str, key: &str) -> Option<&str> {
        self.tables.get(table)?.get(key)?.as_str()
    }

    pub fn script(&self) -> &str {
        &self.script
    }

    pub fn etag(&self) -> &str {
        &self.etag
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn parsed(lang: Lang) -> Tables {
        let source = SOURCES.iter().find(|(l, _)| *l == lang).unwrap().1;
        toml::from_str(source).unwrap_or_else(|e| panic!("locales/{}.toml: {e}", lang.code()))
    }

    fn keys(tables: &Tables) -> BTreeSet<String> {
        tables.iter().flat_map(|(table, entries)| entries.keys().map(move |key| format!("{table}.{key}"))).collect()
    }

    /// `{name}` placeholders, in order.
    fn placeholders(text: &str) -> Vec<&str> {
        text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
    }

    #[test]
    fn every_key_is_in_both_languages_with_the_same_placeholders_and_no_value_is_empty() {
        let (en, zh) = (parsed(Lang::En), parsed(Lang::Zh));
        let (en_keys, zh_keys) = (keys(&en), keys(&zh));
        let only_en: Vec<_> = en_keys.difference(&zh_keys).collect();
        let only_zh: Vec<_> = zh_keys.difference(&en_keys).collect();
        assert!(only_en.is_empty() && only_zh.is_empty(), "missing in zh: {only_en:?}; missing in en: {only_zh:?}");
        for (table, entries) in &en {
            for (key, english) in entries {
                let chinese = &zh[table][key];
                assert!(!english.trim().is_empty() && !chinese.trim().is_empty(), "{table}.{key} is empty");
                let (mut a, mut b) = (placeholders(english), placeholders(chinese));
                a.sort_unstable();
                b.sort_unstable();
                assert_eq!(a, b, "{table}.{key}: the placeholders differ between en and zh");
            }
        }
    }

    #[test]
    fn both_catalogs_parse_and_the_script_table_is_a_script() {
        for lang in Lang::ALL {
            let catalog = catalog(lang);
            assert!(catalog.script().starts_with("self.CHAT_STRINGS = {"), "{}", lang.code());
            assert!(catalog.text("base", "log_in").is_some());
        }
        assert_ne!(catalog(Lang::En).etag(), catalog(Lang::Zh).etag());
    }

    /// Every `t.<table>.<key>` in a template and every `t("<key>")` in a
    /// script names a text the catalog has.
    #[test]
    fn every_key_a_template_or_script_names_is_in_the_catalog() {
        let en = keys(&parsed(Lang::En));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut missing = Vec::new();
        for (dir, extension) in [("templates", ".tera"), ("static", ".js")] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if !name.ends_with(extension) {
                    continue;
                }
                let source = std::fs::read_to_string(&path).unwrap();
                let named = if dir == "templates" { template_keys(&source) } else { script_keys(&source) };
                missing.extend(named.into_iter().filter(|key| !en.contains(key)).map(|key| format!("{name}: {key}")));
            }
        }
        assert!(missing.is_empty(), "keys named but not in the catalogs: {missing:#?}");
    }

    /// `t.table.key` references (an identifier boundary before `t`).
    fn template_keys(source: &str) -> Vec<String> {
        let bytes = source.as_bytes();
        let mut found = Vec::new();
        for (at, _) in source.match_indices("t.") {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
                continue;
            }
            let path: String =
                source[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').collect();
            if path.split('.').count() == 2 && !path.ends_with('.') {
                found.push(path);
            }
        }
        found
    }

    /// `t("key")` calls with a literal key, as `script.key`.
    fn script_keys(source: &str) -> Vec<String> {
        let bytes = source.as_bytes();
        source
            .match_indices("t(\"")
            .filter(|(at, _)| {
                at.checked_sub(1)
                    .map(|i| bytes[i])
                    .is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
            })
            .filter_map(|(at, _)| source[at + 3..].split_once('"').map(|(key, _)| format!("script.{key}")))
            .collect()
    }

    #[test]
    fn the_key_finders_find_what_they_should() {
        assert_eq!(
            template_keys("{{ t.base.log_in }} {{ at.x.y }} {{t.settings.save|upper}}"),
            ["base.log_in", "settings.save"]
        );
        assert_eq!(script_keys("t(\"offline\") + format(\"x\") + t(\"a_b\")"), ["script.offline", "script.a_b"]);
    }
}
