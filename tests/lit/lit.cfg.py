import os
import lit.formats

config.name = "Tessera"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tessera_bin_dir, "..", "tests", "lit")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "Inputs"]
config.environment["PATH"] = os.pathsep.join(
    [config.tessera_bin_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
config.substitutions.append(("%models", os.path.join(config.tessera_src_root, "..", "shared", "models")))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
