package main

import (
	"embed"
	"io/fs"
)

// dist is the built web client. A fresh clone holds only frontend/dist/.keep,
// so `go build` works without Node; the server then shows a placeholder page
// until `npm run build` has filled the folder.
//
//go:embed all:frontend/dist
var dist embed.FS

// webFS returns the client's files rooted at frontend/dist.
func webFS() fs.FS {
	sub, err := fs.Sub(dist, "frontend/dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder exists
	}
	return sub
}

// clientBuilt reports whether web holds the built web client.
func clientBuilt(web fs.FS) bool {
	_, err := fs.Stat(web, "index.html")
	return err == nil
}

// clientNotBuilt is the log line of a binary without the web client.
const clientNotBuilt = "the web client is not built: browsers get a placeholder page until you run " +
	"`npm ci && npm run build` and then `go run .` (or `go build`) again; the API works meanwhile"
