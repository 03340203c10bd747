package ui

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kvsviewer/kvsviewer/call"
)

// SharedConfigFiles returns the AWS shared config and credentials file
// paths the SDK reads: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, or
// ~/.aws/config and ~/.aws/credentials.
func SharedConfigFiles() (configFile, credentialsFile string) {
	home, _ := os.UserHomeDir()
	configFile = os.Getenv("AWS_CONFIG_FILE")
	if configFile == "" && home != "" {
		configFile = filepath.Join(home, ".aws", "config")
	}
	credentialsFile = os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if credentialsFile == "" && home != "" {
		credentialsFile = filepath.Join(home, ".aws", "credentials")
	}
	return configFile, credentialsFile
}

// ListProfiles returns the sorted, de-duplicated profile names found in the
// shared config and credentials files; missing files are skipped. Only
// section names are read; no value of either file is kept.
func ListProfiles(configFile, credentialsFile string) []string {
	seen := map[string]bool{}
	for _, f := range []struct {
		path   string
		config bool
	}{{configFile, true}, {credentialsFile, false}} {
		if f.path == "" {
			continue
		}
		fh, err := os.Open(f.path)
		if err != nil {
			continue
		}
		for _, p := range parseProfileNames(fh, f.config) {
			seen[p] = true
		}
		_ = fh.Close() // read only
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// parseProfileNames returns the profile names of an INI-style AWS file. In
// the config file profiles are "[default]" and "[profile NAME]" (other
// sections such as "[sso-session X]" are not profiles); in the credentials
// file every "[NAME]" is a profile.
func parseProfileNames(r io.Reader, config bool) []string {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "[") {
			continue
		}
		end := strings.IndexByte(line, ']')
		if end < 0 {
			continue
		}
		name := strings.TrimSpace(line[1:end])
		if config && name != "default" {
			rest, ok := strings.CutPrefix(name, "profile")
			if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
				continue
			}
			name = strings.TrimSpace(rest)
		}
		if name != "" && call.ValidProfileName(name) {
			out = append(out, name)
		}
	}
	return out
}
