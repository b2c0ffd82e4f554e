//! Every valid message text renders (`rooms::format`) without panicking to
//! HTML of the formatting's subset only: every `<` opens one of its tags
//! (text is escaped, so a `<` in it is `&lt;`), whose only attributes are
//! `href` (to http, https, mailto or the server's own pages), `rel` and
//! `start`. The check is written here again, not taken from the renderer.
#![no_main]

use chat::rooms::MessageText;
use chat::rooms::format::render;
use libfuzzer_sys::fuzz_target;

const TAGS: [&str; 12] = ["p", "br", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a"];
const PLACES: [&str; 5] = ["http://", "https://", "mailto:", "/rooms/", "/dm/"];

fuzz_target!(|input: &str| {
    let Ok(text) = MessageText::parse(input) else { return };
    let html = render(text.as_str());
    assert!(!html.is_empty(), "a text renders to something");
    for piece in html.split('<').skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or_else(|| panic!("an unclosed tag in {html}"))];
        let tag = tag.strip_prefix('/').unwrap_or(tag);
        let name: String = tag.chars().take_while(char::is_ascii_alphanumeric).collect();
        assert!(TAGS.contains(&name.as_str()), "<{name}> in {html}");
        // Outside quotes (even parts) attribute names, inside their values.
        let parts: Vec<&str> = tag[name.len()..].split('"').collect();
        for pair in parts.chunks(2).filter(|pair| pair.len() == 2) {
            let attribute = pair[0].trim().trim_end_matches('=');
            assert!(["href", "rel", "start"].contains(&attribute), "{attribute} in {html}");
            if attribute == "href" {
                assert!(PLACES.iter().any(|p| pair[1].to_ascii_lowercase().starts_with(p)), "{html}");
            }
        }
    }
});
