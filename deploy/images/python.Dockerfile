# Python 3.11 on the Debian base made by images.sh (Debian bookworm's python3 is 3.11):
# what the official python image gives the tierflow image, where that image cannot be
# pulled. A venv first on PATH provides `python` and `pip` as that image does. ca/ holds the
# host's local CA certificates (/usr/local/share/ca-certificates, copied by images.sh): where
# the machine reaches PyPI through a proxy that signs with its own CA, the builds must trust
# it as the host does.
ARG BASE_IMAGE=tierflow-debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/python
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV PATH=/opt/python/bin:$PATH \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
