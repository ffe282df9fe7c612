package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// project writes a compose file (and other files: name -> content) into a new directory
// and loads it with the environment given.
func project(t *testing.T, file string, files map[string]string, environ ...string) (*Project, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(file), 0o644))
	for name, content := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return Load(Options{Dir: dir, Environ: environ})
}

func TestInterpolate(t *testing.T) {
	vars := map[string]string{"NAME": "web", "EMPTY": "", "PORT": "8080"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"$NAME":                  "web",
		"${NAME}-1":              "web-1",
		"${UNSET}":               "",
		"${UNSET:-8000}":         "8000",
		"${EMPTY:-8000}":         "8000",
		"${EMPTY-8000}":          "",
		"${UNSET-8000}":          "8000",
		"${NAME:+on}":            "on",
		"${EMPTY:+on}":           "",
		"${EMPTY+on}":            "on",
		"${UNSET:-${PORT}}":      "8080",
		"$$NAME":                 "$NAME",
		"cost: 5$":               "cost: 5$",
		"${PORT:?need a port}":   "8080",
		"a ${NAME} and ${PORT}.": "a web and 8080.",
	} {
		got, err := Interpolate(in, lookup)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, want := range map[string]string{
		"${UNSET:?set UNSET first}": "required variable UNSET is missing a value: set UNSET first",
		"${EMPTY:?}":                "required variable EMPTY is missing a value: it is empty",
		"${NAME":                    "without its closing }",
		"${}":                       "not a variable name",
		"$-x":                       "write $$ for a $ itself",
	} {
		_, err := Interpolate(in, lookup)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

const shop = `
services:
  db:
    image: labs/busybox
    command: ["sleep", "infinity"]
    environment:
      - PASSWORD
      - MODE=${MODE:-test}
    env_file: db.env
    volumes:
      - data:/var/lib/db
      - ./conf:/etc/db:ro
      - /scratch
    healthcheck:
      test: test -f /ready
      interval: 500ms
      retries: ${RETRIES}
    restart: on-failure:3
    mem_limit: 64m
    cpus: 0.5
  web:
    build:
      context: ./web
      args:
        VERSION: "1"
    command: httpd -f -p 80 -h "/var/www html"
    ports:
      - "${PORT}:80"
      - target: 53
        published: 5353
        protocol: udp
    networks:
      front:
      back:
        aliases: [www]
    depends_on:
      db:
        condition: service_healthy
      init:
        condition: service_completed_successfully
  init:
    image: labs/busybox
    depends_on: [db]
    x-note: extensions are ignored
networks:
  front:
  back:
    internal: true
    ipam:
      config:
        - subnet: 10.199.30.0/24
volumes:
  data:
x-anchors: ignored too
`

func TestLoad(t *testing.T) {
	p, err := project(t, shop, map[string]string{
		".env":   "PORT=8000\nMODE=from-dotenv\nRETRIES=4\n",
		"db.env": "# the database's settings\nUSER=shop\nMODE=from-env-file\n",
	}, "PORT=9000", "PASSWORD=secret")
	require.NoError(t, err)
	assert.Equal(t, "shop", p.Name, "the project is named after its directory")

	db, web := p.Services["db"], p.Services["web"]
	assert.Equal(t, Command{"sleep", "infinity"}, db.Command)
	assert.Equal(t, Environment{"USER=shop", "PASSWORD=secret", "MODE=from-dotenv"}, db.Environment,
		"env_file first, environment over it; .env's MODE wins over the default; PASSWORD comes from compose's environment")
	assert.Equal(t, []ServiceVolume{
		{Type: "volume", Source: "data", Target: "/var/lib/db"},
		{Type: "bind", Source: filepath.Join(p.Dir, "conf"), Target: "/etc/db", ReadOnly: true},
		{Type: "volume", Target: "/scratch"},
	}, db.Volumes)
	assert.Equal(t, Command{"CMD-SHELL", "test -f /ready"}, db.Healthcheck.Test)
	assert.Equal(t, 500*time.Millisecond, time.Duration(*db.Healthcheck.Interval))
	assert.Equal(t, 4, *db.Healthcheck.Retries, "a variable that is a number decodes as one")
	assert.Equal(t, ServiceNetworks{DefaultNetwork: {}}, db.Networks, "a service without networks is on the default one")

	assert.Equal(t, Command{"httpd", "-f", "-p", "80", "-h", "/var/www html"}, web.Command, "a string command is split as a shell would")
	assert.Equal(t, []Port{{Target: 80, Published: 9000, Protocol: "tcp"}, {Target: 53, Published: 5353, Protocol: "udp"}}, web.Ports,
		"the environment wins over .env")
	assert.Equal(t, filepath.Join(p.Dir, "web"), web.Build.Context)
	assert.Equal(t, []string{"www"}, web.Networks["back"].Aliases)
	assert.Equal(t, ServiceCompletedSuccessfully, web.DependsOn["init"].Condition)
	assert.Equal(t, ServiceStarted, p.Services["init"].DependsOn["db"].Condition, "a list of dependencies waits for each to start")

	require.Contains(t, p.Networks, DefaultNetwork, "the default network is made when a service uses it")
	assert.True(t, p.Networks["back"].Internal)
	assert.Equal(t, "shop_back", p.NetworkName("back"))
	assert.Equal(t, "shop_data", p.VolumeName("data"))
	assert.Equal(t, "shop-web-1", p.ContainerName(web))

	order, err := p.StartOrder()
	require.NoError(t, err)
	var names []string
	for _, s := range order {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"db", "init", "web"}, names, "each service after what it depends on")

	out, err := p.YAML()
	require.NoError(t, err)
	assert.Contains(t, string(out), "published: 9000", "config prints the file as understood")
}

func TestLoadNamesTheProject(t *testing.T) {
	p, err := project(t, "name: Shop.Front\nservices:\n  a:\n    image: x\n", nil)
	require.NoError(t, err)
	assert.Equal(t, "shopfront", p.Name, "name: from the file, lower-cased, only letters, digits, - and _")
	p, err = project(t, "name: ignored\nservices:\n  a:\n    image: x\n", nil, "COMPOSE_PROJECT_NAME=fromenv")
	require.NoError(t, err)
	assert.Equal(t, "fromenv", p.Name)
}

func TestLoadErrorsNameTheKeyAndLine(t *testing.T) {
	for file, want := range map[string]string{
		"services:\n  web:\n    image: x\n    imgae: y\n":                                                     `line 4: services.web: unknown key "imgae"`,
		"services:\n  web:\n    image: x\n    deploy: {}\n":                                                   `line 4: services.web: "deploy" is part of the Compose specification but not supported`,
		"services:\n  web:\n    image: x\nsecrets: {}\n":                                                      `line 4: the file: "secrets" is part of the Compose specification`,
		"services:\n  web:\n    image: x\n    healthcheck:\n      every: 1s\n":                                `line 5: healthcheck: unknown key "every"`,
		"services:\n  web:\n    image: x\n    ports: [\"80\"]\n":                                              `line 4: ports: "80": publish a port as HOST:CONTAINER`,
		"services:\n  web:\n    image: x\n    ports: [\"1:99999\"]\n":                                         `line 4: ports: "1:99999": ports are numbers from 1 to 65535`,
		"services:\n  web:\n    image: x\n    read_only: maybe\n":                                             "line 4: services.web.read_only: cannot unmarshal !!str `maybe` into bool",
		"services:\n  web:\n    image: ${TAG:?pick a tag}\n":                                                  "line 3: required variable TAG is missing a value: pick a tag",
		"services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: ready\n":             `condition "ready"`,
		"services:\n  web:\n    image: x\n    networks: [nowhere]\n":                                          "service web: networks: nowhere is not declared",
		"services:\n  web:\n    image: x\n    volumes: [\"data:/d\"]\n":                                       "service web: volumes: data is not declared",
		"services:\n  web:\n    image: x\n    restart: sometimes\n":                                           `service web: restart: --restart "sometimes"`,
		"services:\n  web:\n    image: x\n    mem_limit: 1k\n":                                                "service web: mem_limit 1k is too small",
		"services:\n  web:\n    image: x\n    healthcheck:\n      interval: -1s\n":                            `line 5: duration "-1s"`,
		"services:\n  web:\n    image: x\n    healthcheck:\n      retries: -1\n":                              "line 5: healthcheck: retries -1",
		"services:\n  web:\n    build: .\n    depends_on: [db]\n  db:\n    image: x\n    depends_on: [web]\n": "depends_on goes round in a circle: db -> web -> db",
		"services:\n  web: {}\n":       "service web: it needs an image or a build",
		"services: {}\n":               "a compose file needs at least one service",
		"version: '3'\nnetworks: {}\n": "a compose file needs at least one service",
	} {
		_, err := project(t, file, nil)
		require.Error(t, err, file)
		assert.Contains(t, err.Error(), want, file)
		assert.True(t, strings.HasPrefix(err.Error(), "compose.yaml: "), "errors name the file: %v", err)
	}
}
