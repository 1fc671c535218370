//! Task descriptions are Markdown written by anyone with write access (a person,
//! an API token, the agent), so the HTML made from them is sanitised: no
//! scripts, no event handlers, no `javascript:` links, no raw styles.
use pulldown_cmark::{Options, Parser, html};

pub fn render(source: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let mut unsafe_html = String::with_capacity(source.len() * 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(source, options));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tags(["input"])
        // Task-list checkboxes only; no other form controls.
        .attribute_filter(|element, attribute, value| {
            if element == "input" && attribute == "type" && value != "checkbox" { None } else { Some(value.into()) }
        })
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn renders_markdown() {
        let html = render("**bold** and [a link](https://example.com)\n\n- one\n- two");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""), "{html}");
    }

    #[test]
    fn scripts_and_handlers_are_removed() {
        for attack in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg onload=alert(1)>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
        ] {
            let html = render(attack);
            let lower = html.to_lowercase();
            assert!(!lower.contains("<script"), "{attack} -> {html}");
            assert!(!lower.contains("onerror") && !lower.contains("onload"), "{attack} -> {html}");
            assert!(!lower.contains("javascript:"), "{attack} -> {html}");
            assert!(!lower.contains("<iframe") && !lower.contains("style="), "{attack} -> {html}");
        }
    }
}
