// Package compose runs applications of several containers from a compose file, as
// `docker compose` does: it reads the file (the Compose specification's common subset,
// with go.yaml.in/yaml/v3, strictly: an unknown key is an error that names it and its
// line), and makes the project's networks, volumes and containers on the engine (lab 08),
// in the order depends_on asks, waiting where it asks for a service to be healthy or to
// have completed.
//
// # What a project is made of
//
//	networks    PROJECT_NAME: user-defined networks (labs/engine), one per key, and
//	            PROJECT_default for the services that name none; on each, a service is
//	            found by its name (an alias of its container there)
//	volumes     PROJECT_NAME, named volumes
//	images      built from a service's build: section when missing, tagged PROJECT-SERVICE
//	containers  PROJECT-SERVICE-1, labelled with the project, the service and a hash of
//	            the configuration, which is how up finds them again and sees what changed
//
// There is no daemon here either: up makes everything and returns (or, in the
// foreground, follows the logs), and the containers' monitors keep their restart policies
// and health checks. Everything the project made is found again from the engine's
// records and labels, so down works from any process, and leaves nothing.
//
// # Variables
//
// Values (not keys) may use $NAME, ${NAME}, ${NAME:-default}, ${NAME-default},
// ${NAME:?error}, ${NAME?error}, ${NAME:+other} and ${NAME+other}; $$ is a $. They come
// from the environment compose runs in, then from the .env file in the project's
// directory.
package compose
