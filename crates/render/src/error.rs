/// Rendering errors, by who is at fault, so the HTTP layer maps them without string matching.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A query parameter (`colormap`, `colormap_name`, `rescale`, `legend`, `entries`) is
    /// malformed or over a limit: HTTP 400 naming `param`.
    #[error("invalid {param}: {message}")]
    BadParam {
        param: &'static str,
        message: String,
    },
    /// A stored legend (the layer's own, not a query parameter) cannot be used.
    #[error("invalid legend: {0}")]
    Legend(String),
    /// The image could not be encoded (a server-side fault).
    #[error("encoding failed: {0}")]
    Encode(String),
}

impl RenderError {
    pub(crate) fn bad(param: &'static str, message: impl Into<String>) -> RenderError {
        RenderError::BadParam {
            param,
            message: message.into(),
        }
    }
}
