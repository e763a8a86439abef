#!/bin/sh
# Waits for the migration Jobs (app.kubernetes.io/component=migration) after `kubectl apply -k <overlay>`.
# Exits 0 once every one has completed. Exits 1 as soon as one has failed, or one of its pods cannot start (an
# image that cannot be pulled, a Secret or key that does not exist), after printing what it knows: the Job's
# pods' logs and its recent events. `kubectl wait --for=condition=complete` alone would sit out its whole
# timeout on a failed Job.
#
#   k8s/wait-for-jobs.sh [namespace]        (default: todo-platform)
#
# No timeout of its own: each Job fails by itself after its activeDeadlineSeconds (k8s/base/migrate-jobs.yaml).
set -eu

namespace=${1:-todo-platform}
selector=app.kubernetes.io/component=migration

report() { # $1: job name; prints the pods' logs and the Job's events to stderr
  kubectl -n "$namespace" logs -l "batch.kubernetes.io/job-name=$1" --all-containers --prefix --tail=200 >&2 || true
  kubectl -n "$namespace" get events --field-selector "involvedObject.name=$1" >&2 || true
}

pending=$(kubectl -n "$namespace" get jobs -l "$selector" -o 'jsonpath={.items[*].metadata.name}')
if [ -z "$pending" ]; then
  echo "no migration Jobs in namespace $namespace: apply the overlay first" >&2
  exit 1
fi

while [ -n "$pending" ]; do
  waiting=
  for job in $pending; do
    if ! conditions=$(kubectl -n "$namespace" get job "$job" -o 'jsonpath={range .status.conditions[?(@.status=="True")]}{.type} {end}'); then
      echo "cannot read job/$job (deleted while waiting?)" >&2
      exit 1
    fi
    case " $conditions " in
      *" Failed "*)
        echo "job/$job failed:" >&2
        report "$job"
        exit 1
        ;;
      *" Complete "*)
        echo "job/$job complete"
        continue
        ;;
    esac
    # Pods that will never start do not fail the Job until its deadline: say so now. (The Job's own status
    # decides everything else, so a failed look at its pods only means looking again.)
    stuck=$(kubectl -n "$namespace" get pods -l "batch.kubernetes.io/job-name=$job" \
      -o 'jsonpath={range .items[*].status.containerStatuses[*]}{.state.waiting.reason} {end}') || stuck=
    case " $stuck " in
      *" ErrImagePull "* | *" ImagePullBackOff "* | *" InvalidImageName "* | *" CreateContainerConfigError "*)
        echo "job/$job cannot start its pod (${stuck% }):" >&2
        kubectl -n "$namespace" describe pods -l "batch.kubernetes.io/job-name=$job" >&2 || true
        exit 1
        ;;
    esac
    waiting="$waiting $job"
  done
  pending=${waiting# }
  if [ -n "$pending" ]; then
    sleep 3
  fi
done
