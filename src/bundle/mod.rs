//! A session packed for transport: the archive, its metadata, the path rewrite between machines,
//! the secret scan and the optional encryption.
