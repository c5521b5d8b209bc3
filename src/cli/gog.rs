//! The GOG account and catalogue commands: `login` (and `login --import`), `library`, `builds`,
//! `info`. Results go to stdout (a
//! table, or one JSON document with `--json`); notices go to stderr. No code, token or
//! password is ever printed.

use std::io::Write;

use galaxy_dl::api::auth::login_url;
use galaxy_dl::api::{Client, Endpoints};
use galaxy_dl::info::{list_builds, BuildInfo};
use galaxy_dl::units::human_bytes;
use galaxy_dl::Error;

use super::args::{BuildsArgs, InfoArgs, LibraryArgs, LoginArgs};
use super::table::{render, Align};

fn client() -> Result<Client, Error> {
    super::knobs::client(&super::knobs::engine())
}

fn out(text: &str) -> Result<(), Error> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes()).and_then(|_| o.flush()).map_err(|e| Error::io("write", "stdout", e))
}

fn json_out<T: serde::Serialize>(v: &T) -> Result<(), Error> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::manifest("output", e.to_string()))?;
    out(&format!("{s}\n"))
}

fn note(msg: &str) {
    eprintln!("galaxy-dl: note: {msg}");
}

pub fn login(a: LoginArgs) -> Result<(), Error> {
    if let Some(src) = a.import {
        let c = client()?;
        let i = c.import_tokens(&src)?;
        let who = if i.tokens.user_id.is_empty() { String::new() } else { format!(" as user {}", i.tokens.user_id) };
        let from = match i.format {
            galaxy_dl::api::import::TokenFormat::Heroic => "heroic",
            galaxy_dl::api::import::TokenFormat::Lgogdownloader => "lgogdownloader",
        };
        out(&format!("logged in{who} (imported from {from})\n"))?;
        eprintln!("galaxy-dl: read {} (not modified)", i.path.display());
        eprintln!("galaxy-dl: tokens stored in {}", c.auth_file().display());
        return Ok(());
    }
    let Some(code) = a.code else {
        // Printing the URL needs no config directory and no network.
        out(&format!("{}\n", login_url(&Endpoints::from_env().auth)))?;
        eprintln!(
            "galaxy-dl: open this URL in a browser and log in, then run:\n  \
             galaxy-dl login --code '<the whole redirect URL or the code>'"
        );
        return Ok(());
    };
    let c = client()?;
    let t = c.exchange_code(&code)?;
    let who = if t.user_id.is_empty() { String::new() } else { format!(" as user {}", t.user_id) };
    out(&format!("logged in{who}\n"))?;
    eprintln!("galaxy-dl: tokens stored in {}", c.auth_file().display());
    Ok(())
}

fn dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

/// Platform names as a short list for the table.
fn platforms(p: &[String]) -> String {
    let short: Vec<&str> = p
        .iter()
        .map(|x| match x.as_str() {
            "windows" => "win",
            "osx" => "mac",
            other => other,
        })
        .collect();
    if short.is_empty() {
        "-".into()
    } else {
        short.join(",")
    }
}

pub fn library(a: LibraryArgs) -> Result<(), Error> {
    let c = client()?;
    let mut games = c.library(&a.query)?;
    // Sorted by title for people (case-insensitively), by id among equal titles.
    games.sort_by(|x, y| {
        x.title
            .to_lowercase()
            .cmp(&y.title.to_lowercase())
            .then_with(|| x.id.len().cmp(&y.id.len()))
            .then(x.id.cmp(&y.id))
    });
    if a.json {
        return json_out(&games);
    }
    if games.is_empty() {
        note(if a.query.search.is_some() || a.query.os.is_some() {
            "no owned game matches"
        } else {
            "the library is empty"
        });
        return Ok(());
    }
    let rows: Vec<Vec<String>> = games
        .iter()
        .map(|g| {
            vec![
                g.id.clone(),
                g.title.clone(),
                platforms(&g.platforms),
                g.dlc_count.to_string(),
                if g.update { "yes" } else { "-" }.to_string(),
            ]
        })
        .collect();
    out(&render(
        &[
            ("ID", Align::Left),
            ("TITLE", Align::Left),
            ("PLATFORMS", Align::Left),
            ("DLC", Align::Right),
            ("UPDATE", Align::Left),
        ],
        &rows,
    ))
}

pub fn builds(a: BuildsArgs) -> Result<(), Error> {
    let c = client()?;
    let builds = list_builds(&c, &a.product_id, &a.os, a.generation, a.password.as_deref())?;
    if a.json {
        return json_out(&builds);
    }
    if builds.is_empty() {
        note(&format!("product {} has no {} builds", a.product_id, a.os));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = builds
        .iter()
        .map(|b| {
            vec![
                b.build_id.clone(),
                b.generation.to_string(),
                dash(Some(&b.version_name)),
                dash(b.branch_name()),
                dash(Some(&b.date_published)),
                if b.public { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    out(&render(
        &[
            ("BUILD", Align::Left),
            ("GEN", Align::Right),
            ("VERSION", Align::Left),
            ("BRANCH", Align::Left),
            ("DATE", Align::Left),
            ("PUBLIC", Align::Left),
        ],
        &rows,
    ))
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn sizes(n: u64) -> String {
    format!("{} ({n} bytes)", human_bytes(n))
}

/// The human-readable `info` text.
pub fn info_text(i: &BuildInfo) -> String {
    let mut s = String::new();
    let name = i.product_name.as_deref().unwrap_or("(unnamed product)");
    s.push_str(&format!("product       {name} ({})\n", i.product_id));
    s.push_str(&format!("owned         {}\n", yes_no(i.owned)));
    s.push_str(&format!(
        "build         {} (generation {}, version {}, branch {}, {})\n",
        i.build_id,
        i.generation,
        dash(Some(&i.version_name)),
        dash(i.branch.as_deref()),
        if i.public { "public" } else { "private" }
    ));
    s.push_str(&format!("published     {}\n", dash(Some(&i.date_published))));
    s.push_str(&format!("os            {}\n", i.os));
    s.push_str(&format!("install dir   {}\n", dash(Some(&i.install_directory))));
    if i.generation == 1 {
        s.push_str(&format!("selection     language {}\n", i.language));
    } else {
        s.push_str(&format!("selection     language {}, {}-bit\n", i.language, i.bitness));
    }
    let whence = if i.sizes_from == "plan" { "" } else { " (depot sums; log in for exact figures)" };
    s.push_str(&format!("download size {}{whence}\n", sizes(i.download_size)));
    s.push_str(&format!("install size  {}{whence}\n", sizes(i.install_size)));
    for p in i.by_product.iter().filter(|_| i.by_product.len() > 1) {
        s.push_str(&format!(
            "  {:<20} {} download, {} on disk\n",
            p.key,
            human_bytes(p.download_size),
            human_bytes(p.install_size)
        ));
    }
    if let Some(u) = &i.update_patch {
        s.push_str(&format!(
            "update        from build {} ({}): patch {} ({} files) vs chunks {}; {} in all with the patch\n",
            u.from_build,
            dash(Some(&u.from_version)),
            human_bytes(u.patch_bytes),
            u.patch_files,
            human_bytes(u.chunk_bytes),
            human_bytes(u.with_patch_bytes)
        ));
    }
    let deps = if i.dependencies.is_empty() { "none".to_string() } else { i.dependencies.join(", ") };
    s.push_str(&format!("dependencies  {deps}\n"));
    s.push_str("\nDepots:\n");
    let rows: Vec<Vec<String>> = i
        .depots
        .iter()
        .map(|d| {
            let mut langs = d.languages.join(",");
            if d.gog_depot {
                langs.push_str(" (gog)");
            }
            vec![
                d.product_id.clone(),
                langs,
                d.bitness.as_ref().filter(|b| !b.is_empty()).map(|b| b.join(",")).unwrap_or_else(|| "any".into()),
                human_bytes(d.size),
                human_bytes(d.compressed_size),
                if d.selected { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    s.push_str(&render(
        &[
            ("PRODUCT", Align::Left),
            ("LANGUAGES", Align::Left),
            ("BITNESS", Align::Left),
            ("SIZE", Align::Right),
            ("DOWNLOAD", Align::Right),
            ("SELECTED", Align::Left),
        ],
        &rows,
    ));
    s.push_str("\nDLC:\n");
    if i.dlcs.is_empty() {
        s.push_str("none\n");
    } else {
        let rows: Vec<Vec<String>> = i
            .dlcs
            .iter()
            .map(|d| {
                vec![
                    d.product_id.clone(),
                    yes_no(d.owned).to_string(),
                    if d.selected { "yes" } else { "no" }.to_string(),
                    dash(Some(&d.name)),
                ]
            })
            .collect();
        s.push_str(&render(
            &[("PRODUCT", Align::Left), ("OWNED", Align::Left), ("SELECTED", Align::Left), ("NAME", Align::Left)],
            &rows,
        ));
    }
    s
}

pub fn info(a: InfoArgs) -> Result<(), Error> {
    let c = std::sync::Arc::new(client()?);
    let dl = galaxy_dl::install::Downloader::new(c, galaxy_dl::install::DownloadOptions::default());
    let i = dl.info(&a.product_id, &a.selection)?;
    for n in &i.notices {
        note(n);
    }
    if a.json {
        json_out(&i)
    } else {
        out(&info_text(&i))
    }
}
