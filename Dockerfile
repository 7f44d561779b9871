# okectl for CI systems other than GitHub Actions (there, use action.yml):
#   docker build -t okectl .
#   docker run --rm -v "$PWD:/repo" --user "$(id -u):$(id -g)" okectl plan
# Everything is pinned: the base image by its full version tag, the Python packages by
# docker/constraints.txt, okectl by this source tree. Change a version deliberately.

FROM python:3.11.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY docker/constraints.txt ./docker/constraints.txt
COPY okectl ./okectl
# Wheels of okectl and of every dependency, at the pinned versions.
RUN pip wheel --no-cache-dir --wheel-dir /wheels --constraint docker/constraints.txt .

FROM python:3.11.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# git: plans and journals record the commit, and diff, bump and --changed-since read the
# history. The repository is mounted from the host and owned by someone else: let git read it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'
COPY --from=build /wheels /wheels
# Only the wheels built above: nothing else is fetched, so nothing unpinned comes in.
RUN pip install --no-cache-dir --no-index --find-links /wheels okectl \
    && rm -rf /wheels \
    && groupadd --gid 10001 okectl \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin okectl
USER 10001:10001
WORKDIR /repo
ENTRYPOINT ["okectl"]
CMD ["--help"]
