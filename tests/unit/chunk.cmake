# Chunking core: legality of dimension flow, rewrite numerics (interpreter), liveness, search.
tessera_add_gtest(chunk_test
  SOURCES chunk_test.cpp
  LIBS tessera_passes_core tessera_autodiff)

# Numerics on the shared tiny models: chunked equals unchunked, inference and training, 1 and 4
# ranks, and the arena shrinks.
set(TSR_CHUNK_MODELS ${CMAKE_SOURCE_DIR}/../shared/models/tiny)
foreach(model gpt2 bert resnet)
  foreach(np 1 4)
    add_test(NAME chunk_numerics_${model}_np${np}
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/chunk_numerics.sh ${CMAKE_BINARY_DIR}/bin
              $<TARGET_FILE:train_tool> ${TSR_CHUNK_MODELS}/${model} ${np})
    set_tests_properties(chunk_numerics_${model}_np${np} PROPERTIES PROCESSORS ${np} TIMEOUT 600)
  endforeach()
endforeach()
