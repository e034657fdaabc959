//! OPML: the feed list out as OPML 2.0, and other readers' lists in as `[[feed]]` tables.
//!
//! Import reads the outlines that carry an `xmlUrl` (what Miniflux, FreshRSS, newsboat
//! and most readers write, in OPML 1.0 or 2.0) and flattens nested outlines: the folder
//! path of a feed becomes a comment above its table, since a feedwatch feed has no
//! folder (topics come from the watchlist, not from where a feed was filed). Names come
//! from the outline's title (or text, or the URL's host) and are made unique against
//! the config and each other. Reading and writing the config file is the CLI's job.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};

use super::markup::{attrs, rfc2822};
use crate::config::{FeedSettings, Source};

/// An OPML file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: not readable as OPML: {message}")]
pub struct OpmlError {
    /// The file.
    pub file: String,
    /// What is wrong, with the position when known.
    pub message: String,
}

/// One feed outline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    /// Title (or text) as written, entities decoded.
    pub title: String,
    /// The feed's URL (`xmlUrl`).
    pub xml_url: String,
    /// The outlines it was nested in, outermost first.
    pub folders: Vec<String>,
}

/// Every configured feed as an OPML 2.0 document.
pub fn write_opml(feeds: &[FeedSettings], now: DateTime<Utc>) -> String {
    let mut s = String::with_capacity(256 + feeds.len() * 128);
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n");
    s.push_str("  <head>\n    <title>feedwatch feeds</title>\n");
    let _ = writeln!(s, "    <dateCreated>{}</dateCreated>", rfc2822(now));
    s.push_str("    <docs>http://opml.org/spec2.opml</docs>\n  </head>\n  <body>\n");
    for feed in feeds {
        let url = match &feed.source {
            Source::Http(u) => u.to_string(),
            Source::File(p) => url::Url::from_file_path(p)
                .map(|u| u.to_string())
                .unwrap_or_else(|()| p.display().to_string()),
        };
        s.push_str("    <outline");
        attrs(
            &mut s,
            &[
                ("type", "rss"),
                ("text", &feed.name),
                ("title", &feed.name),
                ("xmlUrl", &url),
            ],
        );
        s.push_str("/>\n");
    }
    s.push_str("  </body>\n</opml>\n");
    s
}

/// What an outline was while it is open: a folder (with its name) or anything else.
enum Open {
    Folder,
    Other,
}

/// Reads every feed outline of an OPML document. `file` names it in errors.
pub fn read_opml(text: &str, file: &str) -> Result<Vec<Outline>, OpmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut out = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut folders: Vec<String> = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader.read_event().map_err(|e| OpmlError {
            file: file.to_string(),
            message: format!("at byte {}: {e}", reader.error_position()),
        })?;
        match event {
            Event::Start(e) | Event::Empty(e)
                if e.local_name().as_ref().eq_ignore_ascii_case("opml") =>
            {
                saw_opml = true;
            }
            Event::Start(e) if e.local_name().as_ref() == "outline" => {
                match outline(&e, &folders) {
                    Some(feed) => {
                        out.push(feed);
                        open.push(Open::Other);
                    }
                    None => {
                        folders.push(label(&e).unwrap_or_default());
                        open.push(Open::Folder);
                    }
                }
            }
            Event::Empty(e) if e.local_name().as_ref() == "outline" => {
                out.extend(outline(&e, &folders));
            }
            Event::End(e) if e.local_name().as_ref() == "outline" => {
                if let Some(Open::Folder) = open.pop() {
                    folders.pop();
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_opml {
        return Err(OpmlError {
            file: file.to_string(),
            message: "no <opml> element".to_string(),
        });
    }
    Ok(out)
}

/// An attribute's value by name (case-insensitive: `xmlUrl`, `xmlurl`), entities
/// decoded, whitespace collapsed. HTML entities XML does not know (`&nbsp;`) and
/// doubly escaped ones (`&amp;amp;`, common in titles) are decoded too; markup-like
/// text is kept as text.
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    let a = e
        .attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref().eq_ignore_ascii_case(name))?;
    let value = match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
        Ok(v) => v.into_owned(),
        Err(_) => a.value.into_owned(),
    };
    let value = one_line(&htmlize::unescape(value));
    (!value.is_empty()).then_some(value)
}

fn label(e: &BytesStart<'_>) -> Option<String> {
    attr(e, "title").or_else(|| attr(e, "text"))
}

fn outline(e: &BytesStart<'_>, folders: &[String]) -> Option<Outline> {
    let xml_url = attr(e, "xmlUrl")?;
    Some(Outline {
        title: label(e).unwrap_or_default(),
        xml_url,
        folders: folders.iter().filter(|f| !f.is_empty()).cloned().collect(),
    })
}

/// The outcome of an import: TOML to append, and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Import {
    /// `[[feed]]` tables, ready to append to a config file.
    pub toml: String,
    /// (name, URL) of each feed added.
    pub added: Vec<(String, String)>,
    /// (title or URL, reason) of each outline left out.
    pub skipped: Vec<(String, String)>,
}

/// Turns outlines into `[[feed]]` tables, leaving out feeds already configured (or
/// repeated in the file) and URLs feedwatch cannot fetch. `base` is the config file's
/// folder, against which configured relative paths were resolved.
pub fn import(outlines: &[Outline], existing: &[FeedSettings], base: &std::path::Path) -> Import {
    let mut result = Import::default();
    let mut names: Vec<String> = existing.iter().map(|f| f.name.clone()).collect();
    let mut sources: Vec<Source> = existing.iter().map(|f| f.source.clone()).collect();
    for o in outlines {
        let shown = if o.title.is_empty() {
            o.xml_url.clone()
        } else {
            o.title.clone()
        };
        let source = match Source::parse(&o.xml_url, base) {
            Ok(s) => s,
            Err(e) => {
                result.skipped.push((shown, format!("url {e}")));
                continue;
            }
        };
        if sources.contains(&source) {
            result
                .skipped
                .push((shown, format!("{} is already configured", o.xml_url)));
            continue;
        }
        let name = unique_name(&base_name(o, &source), &names);
        if !o.folders.is_empty() {
            let _ = writeln!(
                result.toml,
                "# folder: {}",
                one_line(&o.folders.join(" / "))
            );
        }
        let _ = writeln!(
            result.toml,
            "[[feed]]\nname = {}\nurl = {}\n",
            toml_string(&name),
            toml_string(&o.xml_url)
        );
        result.added.push((name.clone(), o.xml_url.clone()));
        names.push(name);
        sources.push(source);
    }
    result
}

/// The title, else the URL's host, else "feed".
fn base_name(o: &Outline, source: &Source) -> String {
    let title = one_line(&o.title);
    if !title.is_empty() {
        return title;
    }
    match source {
        Source::Http(u) => u.host_str().unwrap_or("feed").to_string(),
        Source::File(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "feed".to_string()),
    }
}

/// `base`, or `base (2)`, `base (3)`, ... whichever is free.
fn unique_name(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base} ({n})"))
        .find(|candidate| !taken.iter().any(|t| t == candidate))
        .unwrap_or_else(|| base.to_string())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A TOML basic string with everything escaped that must be.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const MINIFLUX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
    <head>
        <title>Miniflux</title>
        <dateCreated>Tue, 10 Jun 2025 04:00:00 UTC</dateCreated>
    </head>
    <body>
        <outline text="国际">
            <outline title="新华网 国际" text="新华网 国际" xmlUrl="https://www.news.cn/world/rss.xml" htmlUrl="https://www.news.cn/world/"></outline>
            <outline title="BBC &amp; World" text="BBC &amp; World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml" htmlUrl="https://www.bbc.co.uk/news/world"></outline>
        </outline>
        <outline text="All">
            <outline title="新华网 国际" text="新华网 国际" xmlUrl="https://www.news.cn/world/rss2.xml" htmlUrl="https://www.news.cn/"></outline>
        </outline>
    </body>
</opml>
"#;

    const FRESHRSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0" xmlns:frss="https://freshrss.org/opml">
	<head>
		<title>FreshRSS</title>
		<dateCreated>Tue, 10 Jun 2025 04:00:00 +0000</dateCreated>
	</head>
	<body>
		<outline text="Uncategorized">
			<outline text="联合早报" type="rss" xmlUrl="https://www.zaobao.com.sg/rss/realtime/world" htmlUrl="https://www.zaobao.com.sg/" description="即时 国际" frss:cssFullContent="div.article"/>
		</outline>
		<outline text="Tech">
			<outline text="Ars &#8211; Technica" type="rss" xmlUrl="https://feeds.arstechnica.com/arstechnica/index" htmlUrl="https://arstechnica.com"/>
		</outline>
	</body>
</opml>
"#;

    const NEWSBOAT: &str = r#"<?xml version="1.0"?>
<opml version="1.0">
  <head>
    <title>newsboat - Exported Feeds</title>
  </head>
  <body>
    <outline type="rss" xmlUrl="https://example.org/a.xml" htmlUrl="https://example.org/" title="Example"/>
    <outline type="rss" xmlUrl="https://example.org/b.xml" htmlUrl="" title=""/>
    <outline type="rss" xmlUrl="ftp://example.org/c.xml" title="FTP"/>
  </body>
</opml>
"#;

    #[test]
    fn reads_the_shapes_other_readers_write() {
        let m = read_opml(MINIFLUX, "m.opml").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].title, "新华网 国际");
        assert_eq!(m[0].folders, ["国际"]);
        assert_eq!(m[1].title, "BBC & World");
        assert_eq!(m[2].folders, ["All"]);

        let f = read_opml(FRESHRSS, "f.opml").unwrap();
        let titles: Vec<&str> = f.iter().map(|o| o.title.as_str()).collect();
        assert_eq!(titles, ["联合早报", "Ars – Technica"]);
        assert_eq!(f[1].folders, ["Tech"]);

        let n = read_opml(NEWSBOAT, "n.opml").unwrap();
        assert_eq!(n.len(), 3);
        assert!(n.iter().all(|o| o.folders.is_empty()));
        assert_eq!(n[1].title, "");
    }

    #[test]
    fn import_makes_unique_names_and_skips_what_it_cannot_use() {
        let base = Path::new("/etc/fw");
        let existing = vec![FeedSettings {
            name: "Example".into(),
            source: Source::parse("https://example.org/old.xml", base).unwrap(),
            schedule: None,
            encoding: None,
            timezone: None,
        }];
        let mut outlines = read_opml(MINIFLUX, "m.opml").unwrap();
        outlines.extend(read_opml(NEWSBOAT, "n.opml").unwrap());
        outlines.push(outlines[0].clone());
        let got = import(&outlines, &existing, base);
        let names: Vec<&str> = got.added.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "新华网 国际",
                "BBC & World",
                "新华网 国际 (2)",
                "Example (2)",
                "example.org"
            ]
        );
        assert_eq!(got.skipped.len(), 2, "{:?}", got.skipped);
        assert!(got.skipped[0].1.contains("unsupported scheme"));
        assert!(got.skipped[1].1.contains("already configured"));
        assert!(
            got.toml
                .contains("# folder: 国际\n[[feed]]\nname = \"新华网 国际\"")
        );

        // The tables are valid config, and every name is accepted.
        let text = format!("{}{}", crate::config::EXAMPLE, got.toml);
        let settings =
            crate::config::Settings::from_toml(&text, Path::new("/etc/fw/c.toml")).unwrap();
        assert_eq!(settings.feeds.len(), 1 + got.added.len());
    }

    #[test]
    fn export_reads_back_through_import() {
        let base = Path::new("/srv");
        let feeds: Vec<FeedSettings> = [
            ("新华 \"国际\" & <more>", "https://a.org/x?a=1&b=2"),
            ("local", "demo/a.xml"),
        ]
        .iter()
        .map(|(n, u)| FeedSettings {
            name: n.to_string(),
            source: Source::parse(u, base).unwrap(),
            schedule: None,
            encoding: None,
            timezone: None,
        })
        .collect();
        let doc = write_opml(&feeds, DateTime::UNIX_EPOCH);
        let back = read_opml(&doc, "x.opml").unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].title, "新华 \"国际\" & <more>");
        assert_eq!(back[0].xml_url, "https://a.org/x?a=1&b=2");
        assert_eq!(back[1].xml_url, "file:///srv/demo/a.xml");
        assert!(
            import(&back, &feeds, base).added.is_empty(),
            "all already there"
        );
    }

    #[test]
    fn broken_files_name_themselves() {
        for (name, text) in [
            ("not xml", "<opml><body><outline"),
            ("html", "<html></html>"),
        ] {
            let e = read_opml(text, "bad.opml").unwrap_err();
            assert!(e.to_string().starts_with("bad.opml: "), "{name}: {e}");
        }
    }
}
