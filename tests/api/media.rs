//! Uploads: the type comes from the bytes, limits hold while the body streams, a failed upload
//! stores nothing, thumbnails come from a job, files are served by key, and uploads never
//! attached are swept.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Session, TestApp, error_fields, expect_json, expect_problem, owner_with_tenant, spawn_app_with,
    uuid_of,
};

const BOUNDARY: &str = "gymapi-test-boundary-5f1c";
/// The image limit the tests run with (small, so no test sends megabytes).
const IMAGE_LIMIT: usize = 100_000;

struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    content_type: Option<&'a str>,
    bytes: &'a [u8],
}

fn file<'a>(file_name: &'static str, content_type: &'static str, bytes: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        file_name: Some(file_name),
        content_type: Some(content_type),
        bytes,
    }
}

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(file_name) = part.file_name {
            disposition.push_str(&format!("; filename=\"{file_name}\""));
        }
        body.extend_from_slice(format!("{disposition}\r\n").as_bytes());
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A PNG of `width` x `height`, padded with trailing bytes to `size` when given (decoders
/// stop at the end of the image, so it stays a valid PNG of that size).
fn png(width: u32, height: u32, size: Option<usize>) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    if let Some(size) = size {
        assert!(
            bytes.len() <= size,
            "the PNG is already {} bytes",
            bytes.len()
        );
        bytes.resize(size, 0);
    }
    bytes
}

/// The smallest thing `infer` calls an MP4: an `ftyp` box with the `isom` brand.
fn mp4() -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 0x18];
    bytes.extend_from_slice(b"ftypisom\0\0\0\0isommp41");
    bytes.extend_from_slice(&[0u8; 512]);
    bytes
}

struct MediaApp {
    app: TestApp,
    dir: PathBuf,
    owner: Session,
    gym: Uuid,
}

async fn spawn(pool: PgPool) -> MediaApp {
    let dir = std::env::temp_dir().join(format!("gymapi-media-{}", Uuid::new_v4().simple()));
    let app = spawn_app_with(
        pool,
        &[
            ("media.local_dir", json!(dir.to_string_lossy())),
            ("media.image_max_bytes", json!(IMAGE_LIMIT)),
        ],
    )
    .await;
    let (owner, gym) = owner_with_tenant(&app, "media").await;
    MediaApp {
        app,
        dir,
        owner,
        gym,
    }
}

impl MediaApp {
    async fn upload_raw(&self, session: &Session, gym: Uuid, body: Vec<u8>) -> reqwest::Response {
        self.app
            .post("/api/v1/media")
            .bearer_auth(&session.token)
            .header("X-Gym-ID", gym.to_string())
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn upload(&self, session: &Session, part: Part<'_>) -> reqwest::Response {
        self.upload_raw(session, self.gym, multipart(&[part])).await
    }

    /// Uploads a small PNG as `session` and returns the created item.
    async fn upload_png(&self, session: &Session) -> Value {
        let response = self
            .upload(session, file("a.png", "image/png", &png(8, 8, None)))
            .await;
        expect_json(response, StatusCode::CREATED).await
    }

    async fn fetch(&self, url: &Value) -> reqwest::Response {
        let url = url.as_str().expect("a url");
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.app.base)
        };
        self.app.client.get(url).send().await.unwrap()
    }

    fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.dir, &mut found);
        found
    }
}

impl Drop for MediaApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn media_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from media")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_type_comes_from_the_bytes_not_the_name(pool: PgPool) {
    let m = spawn(pool).await;
    let bytes = png(40, 30, None);
    let response = m
        .upload(&m.owner, file("holiday.mp4", "video/mp4", &bytes))
        .await;
    let item = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(item["content_type"], "image/png");
    assert_eq!(item["width"], 40);
    assert_eq!(item["height"], 30);
    assert_eq!(item["bytes"], bytes.len());
    assert!(item["url"].as_str().unwrap().ends_with(".png"), "{item}");
    assert!(item["thumbnail_url"].is_null());
    assert!(item["attached_at"].is_null());

    // Served by key to anyone, with long-lived caching.
    let served = m.fetch(&item["url"]).await;
    assert_eq!(served.status(), StatusCode::OK);
    let header = |name: &str| {
        served
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(
        header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let etag = header("etag");
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let url = item["url"].as_str().unwrap();
    let revalidated = m
        .app
        .client
        .get(format!("{}{url}", m.app.base))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    // And read back through the API.
    let id = item["id"].as_str().unwrap();
    let read = expect_json(
        m.app
            .get_in(&m.owner, m.gym, &format!("/api/v1/media/{id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read, item);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn text_called_jpg_is_refused_and_nothing_is_stored(pool: PgPool) {
    let m = spawn(pool.clone()).await;
    let response = m
        .upload(
            &m.owner,
            file("cat.jpg", "image/jpeg", b"just some text, not a picture\n"),
        )
        .await;
    let problem = expect_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert_eq!(error_fields(&problem), ["file"]);
    assert_eq!(media_rows(&pool).await, 0);
    assert!(m.files().is_empty(), "{:?}", m.files());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_limit_is_inclusive_and_one_byte_more_stores_nothing(pool: PgPool) {
    let m = spawn(pool.clone()).await;
    let at_limit = png(16, 16, Some(IMAGE_LIMIT));
    let item = expect_json(
        m.upload(&m.owner, file("a.png", "image/png", &at_limit))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(item["bytes"], IMAGE_LIMIT);
    assert_eq!(m.files().len(), 1);

    let over = png(16, 16, Some(IMAGE_LIMIT + 1));
    let problem = expect_problem(
        m.upload(&m.owner, file("b.png", "image/png", &over)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert_eq!(error_fields(&problem), ["file"]);
    assert_eq!(media_rows(&pool).await, 1, "no row for the refused upload");
    assert_eq!(m.files().len(), 1, "no object either: {:?}", m.files());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn videos_are_accepted_without_dimensions_or_thumbnails(pool: PgPool) {
    let m = spawn(pool).await;
    let item = expect_json(
        m.upload(
            &m.owner,
            file("clip.bin", "application/octet-stream", &mp4()),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(item["content_type"], "video/mp4");
    assert!(item["width"].is_null() && item["height"].is_null());
    assert!(item["url"].as_str().unwrap().ends_with(".mp4"));
    m.app.jobs.drain().await.unwrap();
    let id = item["id"].as_str().unwrap();
    let read = expect_json(
        m.app
            .get_in(&m.owner, m.gym, &format!("/api/v1/media/{id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(read["thumbnail_url"].is_null());
    let served = m.fetch(&item["url"]).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "video/mp4");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn concurrent_uploads_all_land_under_their_own_keys(pool: PgPool) {
    let m = spawn(pool.clone()).await;
    let uploads = (0..8).map(|i| {
        let m = &m;
        async move {
            let bytes = png(10 + i, 10, None);
            let response = m.upload(&m.owner, file("x.png", "image/png", &bytes)).await;
            expect_json(response, StatusCode::CREATED).await
        }
    });
    let items = futures_util::future::join_all(uploads).await;
    let mut ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    let mut urls: Vec<&str> = items.iter().map(|i| i["url"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    urls.sort();
    urls.dedup();
    assert_eq!((ids.len(), urls.len()), (8, 8));
    assert_eq!(media_rows(&pool).await, 8);
    assert_eq!(m.files().len(), 8);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_job_makes_the_thumbnail(pool: PgPool) {
    let m = spawn(pool).await;
    let item = expect_json(
        m.upload(
            &m.owner,
            file("wide.png", "image/png", &png(800, 400, None)),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = item["id"].as_str().unwrap();
    m.app.jobs.drain().await.unwrap();
    let read = expect_json(
        m.app
            .get_in(&m.owner, m.gym, &format!("/api/v1/media/{id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    let thumbnail_url = &read["thumbnail_url"];
    assert!(
        thumbnail_url
            .as_str()
            .is_some_and(|u| u.ends_with("_thumb.png")),
        "{read}"
    );
    let served = m.fetch(thumbnail_url).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    let thumbnail = image::load_from_memory(&served.bytes().await.unwrap()).unwrap();
    assert_eq!((thumbnail.width(), thumbnail.height()), (320, 160));

    // Running again changes nothing.
    let outcomes = m.app.jobs.drain().await.unwrap();
    assert!(outcomes.is_empty(), "{outcomes:?}");
    assert_eq!(m.files().len(), 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn tenants_and_roles_decide_who_reads_and_deletes(pool: PgPool) {
    let m = spawn(pool.clone()).await;
    let member = m.app.register("member").await;
    let other_member = m.app.register("other").await;
    for session in [&member, &other_member] {
        let added = m.app.add_member(&m.owner, m.gym, session, "member").await;
        assert_eq!(added.status(), StatusCode::CREATED);
    }
    let item = m.upload_png(&member).await;
    let id = item["id"].as_str().unwrap();
    let path = format!("/api/v1/media/{id}");

    // Another tenant cannot see it.
    let (stranger, their_gym) = owner_with_tenant(&m.app, "stranger").await;
    expect_problem(
        m.app.get_in(&stranger, their_gym, &path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // A member who did not upload it cannot delete it; the uploader can.
    let delete = |session: &Session| {
        m.app
            .delete(&path)
            .bearer_auth(&session.token)
            .header("X-Gym-ID", m.gym.to_string())
            .send()
    };
    expect_problem(
        delete(&other_member).await.unwrap(),
        StatusCode::FORBIDDEN,
        "not_uploader",
    )
    .await;
    expect_problem(
        m.app
            .delete(&path)
            .bearer_auth(&stranger.token)
            .header("X-Gym-ID", their_gym.to_string())
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(m.files().len(), 1);
    assert_eq!(
        delete(&member).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert!(m.files().is_empty(), "{:?}", m.files());
    assert_eq!(media_rows(&pool).await, 0);
    expect_problem(
        m.fetch(&item["url"]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        m.app.get_in(&member, m.gym, &path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The owner may delete anyone's upload.
    let second = m.upload_png(&member).await;
    let response = m
        .app
        .delete(&format!("/api/v1/media/{}", second["id"].as_str().unwrap()))
        .bearer_auth(&m.owner.token)
        .header("X-Gym-ID", m.gym.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn uploads_never_attached_are_swept_after_a_day(pool: PgPool) {
    let m = spawn(pool.clone()).await;
    let orphan = uuid_of(&m.upload_png(&m.owner).await["id"]);
    let attached = uuid_of(&m.upload_png(&m.owner).await["id"]);
    let recent = uuid_of(&m.upload_png(&m.owner).await["id"]);
    // Thumbnails first, so the sweep has them to remove too.
    m.app.jobs.drain().await.unwrap();
    assert_eq!(m.files().len(), 6);

    let mut tx = kernel::db::begin_tenant(&pool, m.gym).await.unwrap();
    media::attach(&mut tx, m.gym, attached, "media_id")
        .await
        .unwrap();
    let missing = media::attach(&mut tx, m.gym, Uuid::now_v7(), "media_id").await;
    assert_eq!(
        missing.err().map(|err| err.status().as_u16()),
        Some(422),
        "attaching an unknown id is a field error"
    );
    tx.commit().await.unwrap();
    sqlx::query("update media set created_at = now() - interval '25 hours' where id <> $1")
        .bind(recent)
        .execute(&pool)
        .await
        .unwrap();

    // The hourly schedule's period has passed.
    sqlx::query("update job_schedules set next_run_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let outcomes = m.app.jobs.drain().await.unwrap();
    assert!(
        format!("{outcomes:?}").contains("media.sweep_unattached"),
        "{outcomes:?}"
    );

    let left: Vec<Uuid> = sqlx::query_scalar("select id from media order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut expected = vec![attached, recent];
    expected.sort();
    assert_eq!(left, expected);
    assert!(!left.contains(&orphan));
    assert_eq!(m.files().len(), 4, "{:?}", m.files());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_uploads_are_client_errors(pool: PgPool) {
    let m = spawn(pool.clone()).await;
    let owner = &m.owner;

    // Not multipart at all.
    let response = m
        .app
        .post("/api/v1/media")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", m.gym.to_string())
        .json(&json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    // Multipart without a boundary.
    let response = m
        .app
        .post("/api/v1/media")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", m.gym.to_string())
        .header("Content-Type", "multipart/form-data")
        .body("nothing")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST, "malformed_multipart").await;

    // No parts, or another part instead of `file`.
    let problem = expect_problem(
        m.upload_raw(owner, m.gym, multipart(&[])).await,
        StatusCode::BAD_REQUEST,
        "missing_file",
    )
    .await;
    assert_eq!(error_fields(&problem), ["file"]);
    let note = Part {
        name: "note",
        file_name: None,
        content_type: None,
        bytes: b"hello",
    };
    let problem = expect_problem(
        m.upload_raw(owner, m.gym, multipart(&[note])).await,
        StatusCode::BAD_REQUEST,
        "unknown_field",
    )
    .await;
    assert_eq!(error_fields(&problem), ["note"]);
    // ... or after it: refused too, and the file before it is not kept.
    let note = Part {
        name: "note",
        file_name: None,
        content_type: None,
        bytes: b"hello",
    };
    let problem = expect_problem(
        m.upload_raw(
            owner,
            m.gym,
            multipart(&[file("a.png", "image/png", &png(8, 8, None)), note]),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown_field",
    )
    .await;
    assert_eq!(error_fields(&problem), ["note"]);

    // An empty file.
    let problem = expect_problem(
        m.upload(owner, file("a.png", "image/png", b"")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["file"]);

    // A body cut off in the middle of the file.
    let mut truncated = multipart(&[file("a.png", "image/png", &png(8, 8, None))]);
    truncated.truncate(truncated.len() - 20);
    expect_problem(
        m.upload_raw(owner, m.gym, truncated).await,
        StatusCode::BAD_REQUEST,
        "malformed_multipart",
    )
    .await;

    // Ids and keys that name nothing.
    expect_problem(
        m.app.get_in(owner, m.gym, "/api/v1/media/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_problem(
        m.app
            .get_in(owner, m.gym, &format!("/api/v1/media/{}", Uuid::now_v7()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for key in [
        format!("{}/{}.png", m.gym, Uuid::new_v4().simple()),
        "garbage".to_string(),
        format!("{}/../../etc/passwd", m.gym),
    ] {
        let response = m.app.get(&format!("/media/{key}")).send().await.unwrap();
        expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }

    assert_eq!(media_rows(&pool).await, 0);
    assert!(m.files().is_empty(), "{:?}", m.files());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn other_routes_keep_the_global_body_limit(pool: PgPool) {
    let m = spawn(pool).await;
    // Larger than server.body_limit_bytes (1 MiB), allowed on the upload route only.
    let big = vec![b' '; 1_100_000];
    let response = m
        .app
        .post("/api/v1/members")
        .bearer_auth(&m.owner.token)
        .header("X-Gym-ID", m.gym.to_string())
        .header("Content-Type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // The upload route reads it, and refuses it as an image over the (test) image limit.
    let mut large_png = png(8, 8, None);
    large_png.extend_from_slice(&big);
    let problem = expect_problem(
        m.upload(&m.owner, file("big.png", "image/png", &large_png))
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert_eq!(error_fields(&problem), ["file"]);
}
