//! The body of an inbound webhook ([`crate::routes::Routes::inbound_webhook`]): the request's
//! bytes exactly as they arrived, whatever their content type and whether or not they parse.
//! Providers sign the raw bytes, so the handler must verify before anything reads them; a JSON
//! extractor would re-serialize (breaking the signature) or refuse a malformed body before the
//! handler could answer it in the provider's terms.

use bytes::Bytes;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

#[derive(Debug, Clone)]
pub struct InboundBody(pub Bytes);

impl std::ops::Deref for InboundBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<'a> ApiExtractor<'a> for InboundBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(_registry: &mut Registry) {}

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some(
                "The provider's event, exactly as sent: its signature is checked over these bytes.",
            ),
            content: vec![MetaMediaType {
                content_type: "application/json",
                // Any JSON value: the provider defines its shape.
                schema: MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)),
            }],
            required: true,
        })
    }

    async fn from_request(
        _request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(InboundBody(body.take()?.into_bytes().await?))
    }
}
