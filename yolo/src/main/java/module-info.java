/**
 * YOLO on the engine: models, loss, data readers, training, evaluation, pruning studies, ONNX export,
 * the detector and its HTTP service, and the {@code jprune} command line. It reads the engine's
 * exported packages only (no kernel tables, no bindings).
 */
module org.jprune.yolo {
    requires org.jprune.engine;
    requires com.fasterxml.jackson.databind;
    requires com.google.protobuf;
    requires info.picocli;
    requires org.knowm.xchart;
    requires org.yaml.snakeyaml;
    requires java.desktop;
    requires java.net.http;
    requires java.xml;
    requires jdk.httpserver;

    exports org.jprune.yolo;
    exports org.jprune.yolo.cli;
    exports org.jprune.yolo.data;
    exports org.jprune.yolo.eval;
    exports org.jprune.yolo.export;
    exports org.jprune.yolo.export.onnx;
    exports org.jprune.yolo.infer;
    exports org.jprune.yolo.loss;
    exports org.jprune.yolo.model;
    exports org.jprune.yolo.report;
    exports org.jprune.yolo.serve;
    exports org.jprune.yolo.train;

    opens org.jprune.yolo.cli to info.picocli; // options are injected into the commands' fields
}
