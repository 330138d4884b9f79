# Minstrel in a container, built by the same script as a server install
# (scripts/install.sh: setup.sh, build-plugins.sh, cargo install), which CI's scripts
# also run. The first-party plugins are bundled in the binary.
#   docker build -t minstrel .
#   docker run -e DISCORD_TOKEN=... -v minstrel-data:/data minstrel
# Trixie: componentize-js (the JavaScript plugin toolchain setup.sh installs) needs
# Node.js 20.19 or newer.
FROM rust:1.95-trixie AS build
WORKDIR /src
COPY . .
RUN scripts/install.sh /opt/minstrel

FROM debian:trixie-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg libopus0 python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# The same path as in the build stage: the yt-dlp virtual environment refers to it.
COPY --from=build /opt/minstrel /opt/minstrel
ENV PATH=/opt/minstrel/bin:$PATH
RUN useradd --system --home-dir /data --create-home minstrel
USER minstrel
WORKDIR /data
VOLUME /data
# The admin listener, when MINSTREL_ADMIN__LISTEN=0.0.0.0:9400 (and a token) is set.
EXPOSE 9400
ENTRYPOINT ["minstrel", "--data-dir", "/data"]
CMD ["run"]
