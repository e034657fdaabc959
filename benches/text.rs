//! Throughput of the text stages on the ingest hot path: HTML → text and content hashes.
//!
//! Uses the generated bench corpus when present (the HTML bodies inside its feeds'
//! CDATA sections), and always a synthetic ~100 KB news article in Chinese and one in
//! English, so the numbers exist on any machine.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::identity::content_hash;
use feedwatch::text::{html_to_text, inline_text};

const CORPUS: &str = "/tmp/feedwatch-bench/corpus";

/// HTML bodies from the corpus feeds: what `parse` would hand to `text`.
fn corpus_bodies() -> Vec<String> {
    let Ok(runs) = std::fs::read_dir(CORPUS) else {
        return Vec::new();
    };
    // The smallest corpus is plenty for a throughput figure.
    let Some(dir) = runs
        .flatten()
        .map(|e| e.path().join("feeds"))
        .filter_map(|d| Some((std::fs::read_dir(&d).ok()?.count(), d)))
        .min()
        .map(|(_, d)| d)
    else {
        return Vec::new();
    };
    let mut bodies = Vec::new();
    let Ok(files) = std::fs::read_dir(&dir) else {
        return bodies;
    };
    for file in files.flatten() {
        let Ok(xml) = std::fs::read_to_string(file.path()) else {
            continue;
        };
        let mut rest = xml.as_str();
        while let Some(start) = rest.find("<![CDATA[") {
            rest = &rest[start + 9..];
            let Some(end) = rest.find("]]>") else { break };
            bodies.push(rest[..end].to_string());
            rest = &rest[end + 3..];
        }
    }
    bodies
}

/// A Chinese news article in the shape scraped feeds deliver: paragraphs with inline
/// emphasis and links, entities, escaped closing tags, a list, a script and a comment.
fn synthetic_zh() -> String {
    let mut s = String::from(
        "<div class=\"article\"><h1>特朗普与普京潜在会晤：美俄关系的新篇章？</h1>\
         <script>window.ad = {slot: '<div>'};</script><!-- 广告 -->",
    );
    let mut n = 0;
    while s.len() < 100 * 1024 {
        n += 1;
        s.push_str(&format!(
            "<p>在全球密切关注之下，美国总统与俄罗斯总统面对面会晤的可能性再次浮现。根据一份\
             <strong>最近的报告</strong>，白宫高级官员确认，双方可能最早下周会晤，并且正在考虑\
             随后进行<a href=\"https://news.example.com/{n}\" target=\"_blank\">三方会晤</a>\
             的可能性&hellip;分析人士称&ldquo;局势仍不确定&rdquo;&nbsp;&mdash;&nbsp;第{n}段。<\\/p>\n"
        ));
        if n % 5 == 0 {
            s.push_str(
                "<ul><li><strong>选举策略：<\\/strong> 兑现竞选承诺。</li>\
                 <li>施压与外交：&#8220;双轨策略&#8221;。</li></ul>\n",
            );
        }
    }
    s.push_str("</div>");
    s
}

/// An English wire story of the same size.
fn synthetic_en() -> String {
    let mut s = String::from("<article><h2>Leaders may meet next week</h2>");
    let mut n = 0;
    while s.len() < 100 * 1024 {
        n += 1;
        s.push_str(&format!(
            "<p>WASHINGTON &mdash; Officials said on Tuesday that the two leaders could meet\n\
             as early as next week, in what <em>analysts</em> called &ldquo;a decisive\n\
             moment&rdquo; for <a href=\"https://news.example.com/{n}\">US-Russia relations</a>.\n\
             Markets were little changed &amp; traders said the talks were priced in.</p>\n"
        ));
    }
    s.push_str("</article>");
    s
}

fn bench_html(c: &mut Criterion) {
    let mut g = c.benchmark_group("html_to_text");
    let bodies = corpus_bodies();
    if bodies.is_empty() {
        eprintln!("corpus skipped: no CDATA bodies under {CORPUS}");
    } else {
        let total: usize = bodies.iter().map(String::len).sum();
        g.throughput(Throughput::Bytes(total as u64));
        g.bench_function(format!("corpus_{}_bodies", bodies.len()), |b| {
            b.iter(|| {
                for body in &bodies {
                    black_box(html_to_text(black_box(body)));
                }
            })
        });
    }
    for (name, html) in [
        ("synthetic_zh_100k", synthetic_zh()),
        ("synthetic_en_100k", synthetic_en()),
    ] {
        g.throughput(Throughput::Bytes(html.len() as u64));
        g.bench_function(name, |b| b.iter(|| html_to_text(black_box(&html))));
    }
    let title = "快讯｜特朗普与普京&nbsp;<em>潜在会晤</em>：美俄关系的新篇章？";
    g.throughput(Throughput::Bytes(title.len() as u64));
    g.bench_function("inline_title", |b| b.iter(|| inline_text(black_box(title))));
    g.finish();
}

fn bench_hash(c: &mut Criterion) {
    let mut g = c.benchmark_group("content_hash");
    let title = "特朗普与普京潜在会晤：美俄关系的新篇章？";
    for (name, text) in [
        ("zh_text_100k", html_to_text(&synthetic_zh())),
        ("en_text_100k", html_to_text(&synthetic_en())),
    ] {
        g.throughput(Throughput::Bytes((title.len() + text.len()) as u64));
        g.bench_function(name, |b| {
            b.iter(|| content_hash(black_box(title), black_box(&text)))
        });
        g.bench_function(format!("{name}_blake3_only"), |b| {
            b.iter(|| blake3::hash(black_box(text.as_bytes())))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_html, bench_hash);
criterion_main!(benches);
