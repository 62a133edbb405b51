// Test helper: reads a JSON array of manifests on stdin and decodes each one
// the way stretcher v2 does on a node (Go text/template with env, must_env and
// json_escape, then gopkg.in/yaml.v2 non-strict Unmarshal into stretcher's
// Manifest struct). Prints a JSON array of results on stdout.
//
// Run in GOPATH mode against Debian's golang-gopkg-yaml.v2-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run decode.go
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"

	yaml "gopkg.in/yaml.v2"
)

// Copied from fujiwara/stretcher manifest.go and command.go.
type CommandLine string
type CommandLines []CommandLine
type Commands struct {
	Pre     CommandLines `yaml:"pre"`
	Post    CommandLines `yaml:"post"`
	Success CommandLines `yaml:"success"`
	Failure CommandLines `yaml:"failure"`
}
type Manifest struct {
	Src          string       `yaml:"src"`
	CheckSum     string       `yaml:"checksum"`
	Dest         string       `yaml:"dest"`
	DestMode     *os.FileMode `yaml:"dest_mode"`
	Commands     Commands     `yaml:"commands"`
	Excludes     []string     `yaml:"excludes"`
	ExcludeFrom  string       `yaml:"exclude_from"`
	SyncStrategy string       `yaml:"sync_strategy"`
}

type result struct {
	Manifest *Manifest `json:"manifest,omitempty"`
	Keys     []string  `json:"keys,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// The functions kayac/go-config gives the template.
var funcs = template.FuncMap{
	"env": func(key string, args ...string) string {
		if v := os.Getenv(key); v != "" {
			return v
		}
		if len(args) > 0 {
			return args[0]
		}
		return ""
	},
	"must_env": func(key string) string {
		if v, ok := os.LookupEnv(key); ok {
			return v
		}
		panic(fmt.Sprintf("environment variable %s is not defined", key))
	},
	"json_escape": func(s string) string {
		b, _ := json.Marshal(s)
		return strings.Trim(string(b), `"`)
	},
}

func decode(text string) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{Error: fmt.Sprint("panic: ", p)}
		}
	}()
	tmpl, err := template.New("manifest").Funcs(funcs).Parse(text)
	if err != nil {
		return result{Error: "template: " + err.Error()}
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		return result{Error: "template: " + err.Error()}
	}
	var m Manifest
	if err := yaml.Unmarshal(buf.Bytes(), &m); err != nil {
		return result{Error: "yaml: " + err.Error()}
	}
	var keys yaml.MapSlice
	if err := yaml.Unmarshal(buf.Bytes(), &keys); err != nil {
		return result{Error: "yaml keys: " + err.Error()}
	}
	r = result{Manifest: &m, Keys: []string{}}
	for _, item := range keys {
		r.Keys = append(r.Keys, fmt.Sprint(item.Key))
	}
	return r
}

func main() {
	var manifests []string
	if err := json.NewDecoder(os.Stdin).Decode(&manifests); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	results := make([]result, len(manifests))
	for i, text := range manifests {
		results[i] = decode(text)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
