# Writes a C++ source holding every profiles/*.yaml as a string, keyed by its file name
# (without .yaml). Run by CMake at build time: cmake -DOUT=... -DDIR=... -P this-file.
file(GLOB files ${DIR}/*.yaml)
# Sort by profile name, not by path: "alb" before "alb-client-activity-only".
set(names "")
foreach(f ${files})
  get_filename_component(name ${f} NAME_WE)
  list(APPEND names ${name})
endforeach()
list(SORT names)
set(body "// Generated from profiles/*.yaml by cmake/embed_profiles.cmake. Do not edit.\n")
string(APPEND body "#include \"builtin_profiles.h\"\n\nnamespace dropsim {\n\n")
string(APPEND body "const std::vector<EmbeddedProfile>& embedded_profiles() {\n")
string(APPEND body "  static const std::vector<EmbeddedProfile> all = {\n")
foreach(name ${names})
  file(READ ${DIR}/${name}.yaml text)
  # A raw string literal with a delimiter that YAML text will not contain.
  string(APPEND body "    {\"${name}\", \"profiles/${name}.yaml\", R\"dropsim_yaml(${text})dropsim_yaml\"},\n")
endforeach()
string(APPEND body "  };\n  return all;\n}\n\n}  // namespace dropsim\n")
file(WRITE ${OUT} "${body}")
