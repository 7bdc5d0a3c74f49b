//! Uploads: multipart bodies written by hand (so tests can also write broken ones), small
//! images and videos, and an app whose uploads land in a directory of its own.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Call, Caller, Session, TestApp, spawn_app_with};

const BOUNDARY: &str = "gymapi-test-boundary-5f1c";
/// The image limit the tests run with (small, so no test sends megabytes).
pub const IMAGE_LIMIT: usize = 100_000;

/// One part of a multipart body.
pub struct Part<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub bytes: &'a [u8],
}

/// The `file` part, named `file_name` and declared as `content_type`.
pub fn file<'a>(file_name: &'static str, content_type: &'static str, bytes: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        file_name: Some(file_name),
        content_type: Some(content_type),
        bytes,
    }
}

pub fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
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
pub fn png(width: u32, height: u32, size: Option<usize>) -> Vec<u8> {
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
pub fn mp4() -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 0x18];
    bytes.extend_from_slice(b"ftypisom\0\0\0\0isommp41");
    bytes.extend_from_slice(&[0u8; 512]);
    bytes
}

/// An app storing uploads in a directory of its own (removed on drop), with the small
/// [`IMAGE_LIMIT`], and an owner with their tenant.
pub struct MediaApp {
    pub app: TestApp,
    pub dir: PathBuf,
    pub owner: Session,
    pub gym: Uuid,
}

impl MediaApp {
    pub async fn spawn(pool: PgPool) -> MediaApp {
        let dir = std::env::temp_dir().join(format!("gymapi-media-{}", Uuid::new_v4().simple()));
        let app = spawn_app_with(
            pool,
            &[
                ("media.local_dir", json!(dir.to_string_lossy())),
                ("media.image_max_bytes", json!(IMAGE_LIMIT)),
            ],
        )
        .await;
        let (owner, gym) = app.owner_with_tenant("media").await;
        MediaApp {
            app,
            dir,
            owner,
            gym,
        }
    }

    /// Requests as the owner, in their tenant.
    pub fn as_owner(&self) -> Caller<'_> {
        self.app.as_(&self.owner).in_(self.gym)
    }

    /// `session` posts `body` as multipart to the upload route, in the owner's tenant.
    pub fn upload_raw(&self, session: &Session, body: Vec<u8>) -> Call {
        self.app
            .as_(session)
            .in_(self.gym)
            .post("/api/v1/media")
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
    }

    /// `session` uploads `part` alone to the owner's tenant.
    pub fn upload(&self, session: &Session, part: Part<'_>) -> Call {
        self.upload_raw(session, multipart(&[part]))
    }

    /// Uploads a small PNG as `session` and returns the created item.
    pub async fn upload_png(&self, session: &Session) -> Value {
        self.upload(session, file("a.png", "image/png", &png(8, 8, None)))
            .expect(201)
            .await
    }

    /// A GET, with no credentials, of a URL the API handed out.
    pub fn fetch(&self, url: &Value) -> Call {
        let url = url.as_str().expect("a url");
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.app.base)
        };
        Call(self.app.client.get(url))
    }

    /// Every file under the storage directory.
    pub fn files(&self) -> Vec<PathBuf> {
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
