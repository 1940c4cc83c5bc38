// Package auth owns credential handling for minichat: argon2id password
// hashes in PHC string format, opaque session tokens stored only as SHA-256
// digests, and a Limiter that bounds how many password hashes run at once.
//
// Everything in the package is safe for concurrent use.
package auth
