//! `GET /media/{key}`: the bytes behind an unguessable key, for anyone who has it (an `<img>`
//! tag cannot send a token). Local storage streams the file with long-lived caching (a key's
//! content never changes); S3 storage redirects to a short-lived signed URL.

use futures_util::TryStreamExt;
use kernel::{ApiError, AppContext};
use poem::http::{StatusCode, header};
use poem::{Body, Endpoint, Request, Response};
use uuid::Uuid;

use crate::service::{self, content_type_of};
use crate::settings::MediaSettings;
use crate::storage::{Delivery, Storage};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Mount at `/media/*key`.
#[derive(Clone)]
pub struct Files {
    ctx: AppContext,
    storage: Storage,
}

impl Files {
    pub fn new(ctx: AppContext) -> Self {
        let storage = Storage::new(&MediaSettings::of(&ctx.settings));
        Self { ctx, storage }
    }
}

fn not_found() -> poem::Error {
    service::no_such_media().into()
}

/// `<gym_id>/<32 hex>[_thumb].<ext>`: the tenant, and the object's name.
fn parse_key(key: &str) -> Option<(Uuid, &str)> {
    let (gym, name) = key.split_once('/')?;
    let gym_id = Uuid::parse_str(gym).ok()?;
    let (stem, _) = name.split_once('.')?;
    let token = stem.strip_suffix("_thumb").unwrap_or(stem);
    let well_formed = token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
    (well_formed && content_type_of(name).is_some()).then_some((gym_id, stem))
}

impl Endpoint for Files {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let key = req.raw_path_param("key").unwrap_or_default().to_string();
        let (gym_id, stem) = parse_key(&key).ok_or_else(not_found)?;
        let row = service::by_key(&self.ctx, gym_id, &key).await?;
        let content_type = if row.key == key {
            row.content_type.clone()
        } else {
            content_type_of(&key)
                .unwrap_or("application/octet-stream")
                .to_string()
        };
        let etag = format!("\"{stem}\"");

        let delivery = self
            .storage
            .deliver(&key)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(not_found)?;
        match delivery {
            Delivery::Redirect(url) => {
                let seconds = self.storage.settings().signed_url_ttl_seconds / 2;
                Ok(Response::builder()
                    .status(StatusCode::TEMPORARY_REDIRECT)
                    .header(header::LOCATION, url)
                    .header(header::CACHE_CONTROL, format!("private, max-age={seconds}"))
                    .finish())
            }
            Delivery::Stream(object) => {
                let fresh = req
                    .headers()
                    .get(header::IF_NONE_MATCH)
                    .and_then(|value| value.to_str().ok())
                    .is_some_and(|value| {
                        value
                            .split(',')
                            .any(|tag| tag.trim() == etag || tag.trim() == "*")
                    });
                let builder = Response::builder()
                    .header(header::CACHE_CONTROL, IMMUTABLE)
                    .header(header::ETAG, &etag)
                    .header("X-Content-Type-Options", "nosniff");
                if fresh {
                    return Ok(builder.status(StatusCode::NOT_MODIFIED).finish());
                }
                let size = object.meta.size;
                let stream = object.into_stream().map_err(std::io::Error::other);
                Ok(builder
                    .status(StatusCode::OK)
                    .content_type(content_type)
                    .header(header::CONTENT_LENGTH, size)
                    .body(Body::from_bytes_stream(stream)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_key;

    #[test]
    fn keys_name_a_tenant_and_an_object() {
        let gym = "0190d5b2-8c4e-7a3b-9f10-2b3c4d5e6f70";
        let token = "0123456789abcdef0123456789abcdef";
        assert!(parse_key(&format!("{gym}/{token}.png")).is_some());
        assert!(parse_key(&format!("{gym}/{token}_thumb.jpg")).is_some());
        assert!(parse_key(&format!("{gym}/{token}.exe")).is_none());
        assert!(parse_key(&format!("{gym}/../{token}.png")).is_none());
        assert!(parse_key(&format!("nope/{token}.png")).is_none());
        assert!(parse_key(&format!("{gym}/{token}/x.png")).is_none());
    }
}
