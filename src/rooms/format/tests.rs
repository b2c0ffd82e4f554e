use super::*;

/// `<a href="{href}" rel="…">{label}</a>` as the renderer writes a link.
fn link(href: &str, label: &str) -> String {
    format!(r#"<a href="{href}" rel="{LINK_REL}">{label}</a>"#)
}

#[test]
fn plain_text_is_one_paragraph_with_its_line_breaks() {
    assert_eq!(render("hello"), "<p>hello</p>");
    assert_eq!(render("one\ntwo"), "<p>one<br>\ntwo</p>");
    assert_eq!(render("a & b < c \"d\""), "<p>a &amp; b &lt; c \"d\"</p>");
    assert_eq!(render("first\n\nsecond"), "<p>first</p>\n<p>second</p>");
}

#[test]
fn only_an_empty_text_renders_empty() {
    assert_eq!(render(""), "");
    assert_eq!(render(" \n "), "");
    // A lone link definition is Markdown that shows nothing: the text shows.
    assert_eq!(render("[a]: http://e.com"), format!("<p>[a]: {}</p>", link("http://e.com", "http://e.com")));
}

#[test]
fn each_part_of_the_subset_has_its_element() {
    assert_eq!(render("*em* _em_"), "<p><em>em</em> <em>em</em></p>");
    assert_eq!(render("**strong**"), "<p><strong>strong</strong></p>");
    assert_eq!(render("~~gone~~"), "<p><del>gone</del></p>");
    assert_eq!(render("use `x < y`"), "<p>use <code>x &lt; y</code></p>");
    assert_eq!(
        render("```rust\nfn main() {}\n```"),
        "<pre><code>fn main() {}\n</code></pre>",
        "no class from the info string"
    );
    assert_eq!(render("> said\n> this"), "<blockquote>\n<p>said<br>\nthis</p>\n</blockquote>");
    assert_eq!(render("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>");
    assert_eq!(render("3. c\n4. d"), "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>");
    assert_eq!(
        render("[docs](https://example.com/docs)"),
        format!("<p>{}</p>", link("https://example.com/docs", "docs"))
    );
}

#[test]
fn raw_html_is_shown_as_text() {
    assert_eq!(render("<img src=x onerror=alert(1)>"), "<p>&lt;img src=x onerror=alert(1)&gt;</p>");
    assert_eq!(render("a <b>bold</b> move"), "<p>a &lt;b&gt;bold&lt;/b&gt; move</p>");
    assert_eq!(render("<script>alert(1)</script>"), "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
    assert_eq!(render("<div>\nhi\n</div>"), "<p>&lt;div&gt;<br>\nhi<br>\n&lt;/div&gt;</p>");
    assert_eq!(render("<!-- hidden -->"), "<p>&lt;!-- hidden --&gt;</p>");
    assert_eq!(render("*<i>x</i>*"), "<p><em>&lt;i&gt;x&lt;/i&gt;</em></p>");
}

#[test]
fn what_lies_outside_the_subset_shows_as_typed() {
    assert_eq!(render("# Title\nbody"), "<p># Title</p>\n<p>body</p>");
    assert_eq!(render("Title\n==="), "<p>Title<br>\n===</p>");
    assert_eq!(render("---"), "<p>---</p>");
    assert_eq!(render("    indented\n    lines"), "<p>indented<br>\nlines</p>");
    let image = render("![cat](https://example.com/cat.png)");
    assert!(!image.contains("<img"), "{image}");
    assert!(image.starts_with("<p>![cat]("), "{image}");
    let table = render("| a | b |\n|---|---|\n| 1 | 2 |");
    assert!(!table.contains("<table"), "{table}");
}

#[test]
fn links_to_the_allowed_schemes_carry_the_rel_attribute() {
    for href in ["http://example.com/", "https://example.com/a?b=1", "mailto:bob@example.com"] {
        assert_eq!(render(&format!("[x]({href})")), format!("<p>{}</p>", link(&href.replace('&', "&amp;"), "x")));
    }
    assert_eq!(
        render("<https://example.com>"),
        format!("<p>{}</p>", link("https://example.com", "https://example.com"))
    );
    assert_eq!(render("<bob@example.com>"), format!("<p>{}</p>", link("mailto:bob@example.com", "bob@example.com")));
    assert_eq!(render("[x](https://e.com \"a title\")"), format!("<p>{}</p>", link("https://e.com", "x")), "no title");
}

#[test]
fn javascript_data_and_vbscript_urls_never_become_links() {
    let vectors = [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x]( javascript:alert(1))",
        "[x](<java\tscript:alert(1)>)",
        "[x](<java\nscript:alert(1)>)",
        "[x](<\u{1}javascript:alert(1)>)",
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;avascript&#x3A;alert(1))",
        "[x](javascript&colon;alert(1))",
        "[x](javascript%3Aalert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](DATA:text/html,<script>alert(1)</script>)",
        "[x](vbscript:msgbox(1))",
        "[x](VBScript:msgbox(1))",
        "<javascript:alert(1)>",
        "<JAVASCRIPT:alert(1)>",
        "<vbscript:msgbox(1)>",
        "<data:text/html,hi>",
        "[x][1]\n\n[1]: javascript:alert(1)",
        "[x]\n\n[x]: <vbscript:msgbox(1)>",
        "javascript://%0Aalert(1)",
        "javascript:alert(1)",
        "![x](javascript:alert(1))",
    ];
    for vector in vectors {
        let html = render(vector);
        assert!(!html.contains("<a") && !html.contains("href"), "{vector:?} became a link: {html}");
    }
}

#[test]
fn the_sanitizer_alone_refuses_what_the_subset_never_makes() {
    // The second line of defence, had the first stage let these through.
    let clean = |html: &str| SANITIZER.clean(html).to_string();
    assert_eq!(clean(r#"<a href="javascript:alert(1)">x</a>"#), format!(r#"<a rel="{LINK_REL}">x</a>"#));
    assert_eq!(
        clean(r#"<a href="data:text/html,x" onclick="alert(1)">x</a>"#),
        format!(r#"<a rel="{LINK_REL}">x</a>"#)
    );
    assert_eq!(clean(r#"<a href="https://e.com" rel="opener" target="_blank">x</a>"#), link("https://e.com", "x"));
    assert_eq!(clean("<script>alert(1)</script><style>*{}</style>"), "");
    assert_eq!(clean(r#"<img src=x onerror="alert(1)"><svg onload="alert(1)"></svg><iframe src="x"></iframe>"#), "");
    assert_eq!(clean(r#"<p style="x" class="y" id="z">t</p>"#), "<p>t</p>");
    assert_eq!(clean(r#"<a href="//evil.example/">x</a>"#), format!(r#"<a rel="{LINK_REL}">x</a>"#));
}

#[test]
fn relative_links_lead_only_to_the_servers_rooms_and_conversations() {
    assert_eq!(render("[tea](/rooms/tea)"), format!("<p>{}</p>", link("/rooms/tea", "tea")));
    assert_eq!(render("[bob](/dm/bob)"), format!("<p>{}</p>", link("/dm/bob", "bob")));
    for elsewhere in ["[x](//evil.example/)", "[x](/account)", "[x](../rooms/tea)", "[x](#top)"] {
        assert!(!render(elsewhere).contains("<a"), "{elsewhere}");
    }
}

#[test]
fn bare_urls_and_addresses_become_links_without_their_trailing_punctuation() {
    assert_eq!(
        render("see https://example.com/a?b=1&c=2."),
        format!("<p>see {}.</p>", link("https://example.com/a?b=1&amp;c=2", "https://example.com/a?b=1&amp;c=2"))
    );
    assert_eq!(
        render("(http://example.com)"),
        format!("<p>({})</p>", link("http://example.com", "http://example.com"))
    );
    assert_eq!(
        render("mail bob@example.com"),
        format!("<p>mail {}</p>", link("mailto:bob@example.com", "bob@example.com"))
    );
    assert_eq!(render("example.com"), "<p>example.com</p>", "only URLs with a scheme");
}

#[test]
fn mentions_and_room_names_link_only_when_they_are_valid_names() {
    assert_eq!(render("hi @bob"), format!("<p>hi {}</p>", link("/dm/bob", "@bob")));
    assert_eq!(
        render("@Alice."),
        format!("<p>{}.</p>", link("/dm/Alice", "@Alice")),
        "the full stop ends the sentence"
    );
    assert_eq!(render("@bob's"), format!("<p>{}'s</p>", link("/dm/bob", "@bob")));
    assert_eq!(render("join #tea, now"), format!("<p>join {}, now</p>", link("/rooms/tea", "#tea")));
    assert_eq!(render("#rust_lang-2026"), format!("<p>{}</p>", link("/rooms/rust_lang-2026", "#rust_lang-2026")));
    for not_a_name in ["@ab", "@guest-1234", "x@y", "#Tea", "C#tea", "@bob@example", "#tea/x", "@bobé"] {
        assert!(!render(not_a_name).contains("<a"), "{not_a_name}");
    }
    assert_eq!(render(&format!("#{}", "a".repeat(65))), format!("<p>#{}</p>", "a".repeat(65)), "too long for a room");
}

#[test]
fn nothing_inside_code_or_links_is_linked() {
    assert_eq!(render("`@bob #tea https://e.com`"), "<p><code>@bob #tea https://e.com</code></p>");
    assert_eq!(render("```\n@bob #tea https://e.com\n```"), "<pre><code>@bob #tea https://e.com\n</code></pre>");
    assert_eq!(render("[@bob #tea](https://e.com)"), format!("<p>{}</p>", link("https://e.com", "@bob #tea")));
    assert_eq!(render("[https://a.com](https://b.com)"), format!("<p>{}</p>", link("https://b.com", "https://a.com")));
}

#[test]
fn nesting_deeper_than_the_bound_loses_its_markup_but_keeps_its_text() {
    let quotes = render(&format!("{} deep", ">".repeat(1000)));
    assert_eq!(quotes.matches("<blockquote>").count(), MAX_NESTING);
    assert!(quotes.contains("<p>deep</p>"), "{quotes}");
    let list: String = (0..20).map(|n| format!("{}- item{n}\n", "  ".repeat(n))).collect();
    let lists = render(&list);
    assert_eq!(lists.matches("<ul>").count(), MAX_NESTING);
    assert_eq!(lists.matches("<li>").count(), MAX_NESTING, "items outside a kept list are text");
    assert!(lists.contains("item19"), "{lists}");
}

#[test]
fn the_longest_texts_render_whatever_they_hold() {
    for text in [">".repeat(2000), "[".repeat(2000), "*a **b ".repeat(285), "@bob ".repeat(400), "a\n".repeat(1000)] {
        let html = render(text.trim());
        assert!(!html.is_empty());
        assert!(html.len() < 40 * text.len(), "output stays proportionate");
    }
}
