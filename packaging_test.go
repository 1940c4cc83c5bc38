package main

import (
	"bufio"
	"flag"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// nfpmContent is one entry of an nfpm contents list.
type nfpmContent struct {
	Src      string `yaml:"src"`
	Dst      string `yaml:"dst"`
	Type     string `yaml:"type"`
	FileInfo struct {
		Mode int `yaml:"mode"`
	} `yaml:"file_info"`
}

type nfpmScripts struct {
	PostInstall string `yaml:"postinstall"`
	PreRemove   string `yaml:"preremove"`
}

// TestPackagingAgrees keeps the two package definitions (make packages'
// packaging/nfpm.yaml and GoReleaser's nfpms), the systemd unit, the
// settings file and the install script in agreement: the same files at
// the same places, one user, one data directory, one settings file, and
// settings that name real flags.
func TestPackagingAgrees(t *testing.T) {
	var nfpm struct {
		Contents []nfpmContent `yaml:"contents"`
		Scripts  nfpmScripts   `yaml:"scripts"`
	}
	readYAML(t, "packaging/nfpm.yaml", &nfpm)
	var gr struct {
		NFPMs []struct {
			Formats  []string      `yaml:"formats"`
			Bindir   string        `yaml:"bindir"`
			Contents []nfpmContent `yaml:"contents"`
			Scripts  nfpmScripts   `yaml:"scripts"`
		} `yaml:"nfpms"`
	}
	readYAML(t, ".goreleaser.yaml", &gr)
	if len(gr.NFPMs) != 1 {
		t.Fatalf(".goreleaser.yaml has %d nfpms, want 1", len(gr.NFPMs))
	}
	g := gr.NFPMs[0]
	if !slices.Equal(g.Formats, []string{"deb", "rpm"}) || g.Bindir != "/usr/bin" {
		t.Errorf("goreleaser nfpms: formats %v, bindir %q", g.Formats, g.Bindir)
	}
	// nfpm.yaml lists the binary itself; GoReleaser adds it from bindir.
	var own []nfpmContent
	for _, c := range nfpm.Contents {
		if c.Dst == "/usr/bin/minichat" {
			continue
		}
		own = append(own, c)
	}
	if !slices.Equal(own, g.Contents) {
		t.Errorf("contents differ:\n nfpm.yaml:   %+v\n .goreleaser: %+v", own, g.Contents)
	}
	if nfpm.Scripts != g.Scripts {
		t.Errorf("scripts differ: %+v and %+v", nfpm.Scripts, g.Scripts)
	}
	dst := map[string]nfpmContent{}
	for _, c := range nfpm.Contents {
		dst[c.Dst] = c
	}
	const (
		unitPath = "/usr/lib/systemd/system/minichat.service"
		envPath  = "/etc/minichat/minichat.env"
		dataDir  = "/var/lib/minichat"
	)
	if c, ok := dst[unitPath]; !ok || c.Src != "packaging/minichat.service" {
		t.Errorf("the unit is not installed at %s: %+v", unitPath, c)
	}
	if c, ok := dst[envPath]; !ok || c.Src != "packaging/minichat.env" || c.Type != "config|noreplace" || c.FileInfo.Mode != 0o640 {
		t.Errorf("the settings file is not a kept config at %s, mode 0640: %+v", envPath, c)
	}
	if c, ok := dst[dataDir]; !ok || c.Type != "dir" || c.FileInfo.Mode != 0o750 {
		t.Errorf("the data directory is not %s, mode 0750: %+v", dataDir, c)
	}
	for _, c := range nfpm.Contents {
		if c.Src != "" && !strings.Contains(c.Src, "$") {
			if _, err := os.Stat(c.Src); err != nil {
				t.Errorf("package source: %v", err)
			}
		}
	}

	unit := unitSettings(t, "packaging/minichat.service")
	want := map[string]string{
		"User":             "minichat",
		"Group":            "minichat",
		"EnvironmentFile":  envPath,
		"WorkingDirectory": dataDir,
		"StateDirectory":   strings.TrimPrefix(dataDir, "/var/lib/"),
		"ReadWritePaths":   dataDir,
		"NoNewPrivileges":  "true",
		"ProtectSystem":    "strict",
		// Ports 80 and 443 for --tls-domain, and nothing else.
		"AmbientCapabilities":   "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
	}
	for k, v := range want {
		if got := unit[k]; len(got) != 1 || got[0] != v {
			t.Errorf("unit: %s=%v, want %s", k, got, v)
		}
	}
	if exec := unit["ExecStart"]; len(exec) != 1 || !strings.HasPrefix(exec[0], "/usr/bin/minichat serve") {
		t.Errorf("unit: ExecStart=%v", exec)
	}

	// The settings file: the data directory, and only real flags.
	fs, _ := newFlagSet("serve", io.Discard)
	known := map[string]bool{}
	fs.VisitAll(func(fl *flag.Flag) { known[envName(fl.Name)] = true })
	b, err := os.ReadFile("packaging/minichat.env")
	if err != nil {
		t.Fatal(err)
	}
	setting := regexp.MustCompile(`(?m)^#?(MINICHAT_[A-Z_]+)=(.*)$`)
	env := map[string]string{}
	for _, m := range setting.FindAllStringSubmatch(string(b), -1) {
		name := strings.TrimSuffix(m[1], "_FILE")
		if !known[name] {
			t.Errorf("minichat.env: %s is no flag's variable", m[1])
		}
		if !strings.HasPrefix(m[0], "#") {
			env[m[1]] = m[2]
		}
	}
	if env["MINICHAT_DATA_DIR"] != dataDir {
		t.Errorf("minichat.env: MINICHAT_DATA_DIR=%q, want %s", env["MINICHAT_DATA_DIR"], dataDir)
	}
	if _, ok := env["MINICHAT_ADDR"]; ok {
		t.Error("minichat.env sets MINICHAT_ADDR: then --tls-domain would not default to :443")
	}

	// The install script makes that user, at home in the data directory.
	script, err := os.ReadFile(nfpm.Scripts.PostInstall)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"useradd --system", "--home-dir " + dataDir, "-o minichat -g minichat -m 0750 " + dataDir, "root:minichat " + envPath} {
		if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(string(script), "\\\n", " ")), " "), want) {
			t.Errorf("%s lacks %q", nfpm.Scripts.PostInstall, want)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// unitSettings reads a systemd unit's Key=Value lines.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}
