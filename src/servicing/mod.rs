//! Servicing metadata: identities, `.mum` package manifests, component
//! manifests, container indexes and delta headers. Pure parsing: no file I/O.

pub mod identity;
