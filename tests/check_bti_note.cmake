# Checks the AArch64 switch's object (tests/CMakeLists.txt):
# its GNU property note says BTI and PAC, and each of the switch's four entry points starts
# with a landing pad (bti c for the switches, bti j for the trampolines).
execute_process(COMMAND ${READELF} -n ${OBJECT} OUTPUT_VARIABLE notes RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT notes MATCHES "AArch64 feature: BTI, PAC")
  message(FATAL_ERROR "${OBJECT}: no GNU property note with BTI and PAC:\n${notes}")
endif()
execute_process(COMMAND ${OBJDUMP} -d ${OBJECT} OUTPUT_VARIABLE code RESULT_VARIABLE rc)
foreach(entry "weft_asm_switch>:[^\n]*\n[^\n]*bti\tc"
              "weft_asm_switch_fiber>:[^\n]*\n[^\n]*bti\tc"
              "weft_asm_trampoline>:[^\n]*\n[^\n]*bti\tj"
              "weft_asm_trampoline_fiber>:[^\n]*\n[^\n]*bti\tj")
  if(NOT code MATCHES "${entry}")
    message(FATAL_ERROR "${OBJECT}: no landing pad matching '${entry}' in:\n${code}")
  endif()
endforeach()
message(STATUS "${OBJECT}: BTI/PAC property note and landing pads present")
