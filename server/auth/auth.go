// Package auth owns credential handling for minichat: argon2id password
// hashes in PHC string format, Passwords that hash and verify them a bounded
// number at a time (Limiter), and opaque session tokens stored only as
// SHA-256 digests. What makes an account, and who may sign in, are package
// chat's rules.
//
// Everything in the package is safe for concurrent use.
package auth
