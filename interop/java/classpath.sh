#!/bin/sh
# The class path of the Java partner client: JAX-WS RI (its manifest names the rest of it) and
# Apache Santuario, as Debian's jaxws and libxml-security-java install them.
j=/usr/share/java
echo "$j/jaxws-rt.jar:$j/jaxb-runtime.jar:$j/javax.activation.jar:$j/xmlsec.jar:$j/commons-codec.jar:$j/slf4j-api.jar:$j/slf4j-nop.jar:$j/commons-logging.jar"
